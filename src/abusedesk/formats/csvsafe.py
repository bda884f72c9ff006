"""CSV cells from reports are hostile: neutralize formula injection before display.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return that hides
one) is run as a formula when an analyst opens an export in a spreadsheet (OWASP "CSV
Injection"). Parsers keep the raw value in ``fields``; anything we display or export goes
through :func:`neutralize` first.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: without one of these bytes no cell can hold a working formula: a cell starting with
#: ``-`` but free of operators and pipes is a negative number or plain text
_FORMULA_BYTES = (b"=", b"+", b"@", b"|", b"\xef\xbc")


def is_formula(value: str) -> bool:
    return value.lstrip(" ").startswith(FORMULA_START)


def neutralize(value: str) -> str:
    """Prefix a quote so spreadsheets show the text instead of evaluating it."""
    return "'" + value if is_formula(value) else value


def may_contain_formulas(data: bytes) -> bool:
    """False when no cell of ``data`` can hold a formula: lets parsers skip per-cell checks.

    Single-byte searches run at memory speed (memchr); a regex over a 40 MB export costs
    more than parsing it.
    """
    return any(marker in data for marker in _FORMULA_BYTES)
