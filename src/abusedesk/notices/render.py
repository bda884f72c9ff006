"""Rendering notices from the Jinja2 templates in ``notices/templates``.

Two environments: plain text without escaping, HTML with autoescape always on. Reported
content (evidence excerpts, subjects, names) reaches templates as plain strings and is
never marked safe, so a hostile report cannot inject markup into a notice.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

EVIDENCE_LIMIT = 2000
#: header lines that name the complainant's mailbox in forwarded spam (ARF and friends)
_RECIPIENT_HEADERS = re.compile(r"^(to|cc|delivered-to|x-original-to|envelope-to|x-rcpt-to|original-rcpt-to|original-mail-from|x-envelope-to)\s*:.*$", re.IGNORECASE | re.MULTILINE)


@lru_cache(maxsize=1)
def text_env() -> Environment:
    return Environment(
        loader=PackageLoader("abusedesk.notices", "templates"), autoescape=False, undefined=StrictUndefined,  # noqa: S701
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1)
def html_env() -> Environment:
    return Environment(
        loader=PackageLoader("abusedesk.notices", "templates"), autoescape=True, undefined=StrictUndefined,
    )


def template_exists(name: str) -> bool:
    try:
        text_env().get_template(f"notice/{name}.txt")
    except TemplateNotFound:
        return False
    return True


def render_pair(base: str, context: dict[str, Any]) -> tuple[str, str | None]:
    """(text, html) of ``base`` + ``.txt`` / ``.html``; html is None when there is no such template."""
    body = text_env().get_template(f"{base}.txt").render(**context)
    try:
        html = html_env().get_template(f"{base}.html").render(**context)
    except TemplateNotFound:
        html = None
    return body, html


def redact_reporter(evidence: str, identities: list[str]) -> str:
    """An excerpt of ``evidence`` without the reporter's identity.

    Removes every occurrence of the reporter's address and name, and the header lines
    that carry the complainant's own mailbox in forwarded mail (To:, Delivered-To: ...),
    which is how spam recipients are usually identified.
    """
    text = _RECIPIENT_HEADERS.sub(lambda m: m.group(1) + ": [redacted]", evidence)
    for identity in sorted({i for i in identities if i and len(i) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(identity), "[redacted]", text, flags=re.IGNORECASE)
        if "@" in identity:
            local = identity.split("@", 1)[0]
            if len(local) >= 4:
                text = re.sub(rf"\b{re.escape(local)}\b", "[redacted]", text, flags=re.IGNORECASE)
    return excerpt(text)


def excerpt(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "\n[... truncated]"
