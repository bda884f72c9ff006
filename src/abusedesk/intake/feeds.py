"""Feed files: ``abusedesk feed import`` and the parser hint that travels with the raw input.

A plain list of addresses carries no category of its own, so the operator names it and
the choice is stored on the raw input as ``format_hint`` (``iplist:security.scan``, read
by the formats registry), so the worker or a later ``quarantine retry`` parses it exactly
the same way.
"""

from __future__ import annotations

from abusedesk.context import Context
from abusedesk.formats import iplist
from abusedesk.policy.taxonomy import parse_category
from abusedesk.reports.flows import IngestResult, ingest_bytes

CHANNEL = "feed"


def format_hint(format: str | None, category: str | None) -> str | None:
    """``--format``/``--category`` → the stored hint; a category alone means a plain list.

    Raises ``ValueError`` for an unknown category, before anything is stored.
    """
    if category is None:
        return format
    chosen = parse_category(category).value
    name = format or iplist.FORMAT
    if name != iplist.FORMAT:
        raise ValueError(f"--category applies to plain lists (--format {iplist.FORMAT}), not to {name!r}")
    return f"{iplist.FORMAT}:{chosen}"


def import_feed(
    ctx: Context, data: bytes, *, filename: str | None, format: str | None = None, category: str | None = None,
    channel: str = CHANNEL, actor: str = "cli",
) -> IngestResult:
    """Store and process one feed file in one transaction; the same bytes again are a no-op."""
    hint = format_hint(format, category)
    return ingest_bytes(ctx, data, channel=channel, filename=filename, format=hint, actor=actor)
