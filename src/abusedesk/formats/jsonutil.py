"""Strict JSON decoding for report bodies: objects only, clear errors, no surprises."""

from __future__ import annotations

import json
from typing import Any

import orjson

from abusedesk.formats.base import ParseError, Problem


def looks_like_json_object(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def _decode(text: str) -> Any:
    """orjson for speed; the standard library for what orjson refuses (NaN, integers over
    64 bits) and for its error messages, so what is accepted stays the same."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def load_object(data: bytes, *, source_format: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"not UTF-8 at byte {exc.start}",
            [Problem("", "rule.body.encoding", "the body must be UTF-8 JSON")],
            source_format=source_format,
        ) from None
    try:
        value = _decode(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            [Problem("", "rule.body.malformed_json", f"line {exc.lineno} column {exc.colno}: {exc.msg}")],
            source_format=source_format,
        ) from None
    if not isinstance(value, dict):
        raise ParseError(
            "the JSON body must be an object",
            [Problem("", "rule.body.not_object", "the JSON body must be an object")],
            source_format=source_format,
        )
    return value


def pointer(*parts: str | int) -> str:
    """RFC 6901 JSON Pointer from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
