"""Load and validate a policy file; errors name the key and the problem."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from abusedesk.policy.models import Policy


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the key and what is wrong."""


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(f'"{part}"' if isinstance(part, str) and "." in part else str(part) for part in loc)


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_location(err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()]
        raise PolicyError(f"{source}: invalid policy:\n  " + "\n  ".join(problems)) from None


def default_policy_text() -> str:
    return resources.files("abusedesk.policy").joinpath("default_policy.toml").read_text("utf-8")


@lru_cache(maxsize=8)
def load_policy(path: Path | None = None) -> Policy:
    """The operator's policy at ``path``, or the shipped default."""
    if path is None:
        return parse_policy(default_policy_text(), source="default policy")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror}") from exc
    return parse_policy(text, source=str(path))
