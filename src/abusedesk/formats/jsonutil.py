"""Strict JSON decoding for report bodies: objects only, clear errors, no surprises."""

from __future__ import annotations

import json
from typing import Any

import orjson

from abusedesk.formats.base import ParseError, Problem


def looks_like_json_object(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


_BOM = b"\xef\xbb\xbf"


def load_object(data: bytes, *, source_format: str) -> dict[str, Any]:
    """orjson for speed; the standard library for what orjson refuses (NaN, integers over
    64 bits, escaped lone surrogates) and for its error messages, so what is accepted
    stays the same."""
    body = data[3:] if data.startswith(_BOM) else data
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = _load_stdlib(body, source_format)
    if not isinstance(value, dict):
        raise ParseError(
            "the JSON body must be an object",
            [Problem("", "rule.body.not_object", "the JSON body must be an object")],
            source_format=source_format,
        )
    return value


def _load_stdlib(body: bytes, source_format: str) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"not UTF-8 at byte {exc.start}",
            [Problem("", "rule.body.encoding", "the body must be UTF-8 JSON")],
            source_format=source_format,
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            [Problem("", "rule.body.malformed_json", f"line {exc.lineno} column {exc.colno}: {exc.msg}")],
            source_format=source_format,
        ) from None


def pointer(*parts: str | int) -> str:
    """RFC 6901 JSON Pointer from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
