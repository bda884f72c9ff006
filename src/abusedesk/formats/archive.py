"""Opening compressed attachments without letting a zip bomb through.

Feeds mail zipped CSVs; an attacker can mail a 40 KB zip that expands to terabytes. The
declared sizes are checked first (cheap, but they can lie), then every member is read in
chunks and refused the moment it passes the ratio or the total, so the limit holds even
against forged headers.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib

from abusedesk.formats.base import ParseError

#: most expansion we accept from one compressed input; CSVs compress 5-30x, bombs 1000x+
MAX_RATIO = 200
#: most bytes we expand from one input, all members together
MAX_TOTAL = 512 * 1024 * 1024
MAX_MEMBERS = 200
_CHUNK = 1 << 20


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def unzip(data: bytes, *, max_ratio: float = MAX_RATIO, max_total: int = MAX_TOTAL, source_format: str | None = None) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of every file in a zip, or :class:`ParseError` for a bomb or a broken zip."""

    def refuse(reason: str) -> ParseError:
        return ParseError(f"zip refused: {reason}", source_format=source_format)

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError(f"not a readable zip file: {exc}", source_format=source_format) from None
    if len(members) > MAX_MEMBERS:
        raise refuse(f"{len(members)} files, at most {MAX_MEMBERS}")
    declared = sum(m.file_size for m in members)
    if declared > max_total:
        raise refuse(f"would expand to {declared} bytes, limit {max_total}")
    limit_by_ratio = max(len(data), 1) * max_ratio
    if declared > limit_by_ratio:
        raise refuse(f"expansion ratio {declared / max(len(data), 1):.0f}:1 over the limit {max_ratio:.0f}:1")
    out: list[tuple[str, bytes]] = []
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise refuse(f"{member.filename!r} is encrypted")
        chunks: list[bytes] = []
        try:
            with archive.open(member) as handle:
                while chunk := handle.read(_CHUNK):
                    total += len(chunk)
                    if total > max_total or total > limit_by_ratio:
                        raise refuse(f"{member.filename!r} expands past its declared size and the limit (a zip bomb)")
                    chunks.append(chunk)
        except ParseError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError) as exc:
            raise ParseError(f"zip member {member.filename!r} unreadable: {exc}", source_format=source_format) from None
        out.append((member.filename, b"".join(chunks)))
    return out


def gunzip(data: bytes, *, max_ratio: float = MAX_RATIO, max_total: int = MAX_TOTAL, source_format: str | None = None) -> bytes:
    """The bytes inside a gzip stream, refused past the ratio or the total."""
    limit = min(max_total, int(max(len(data), 1) * max_ratio))
    chunks: list[bytes] = []
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            while chunk := handle.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise ParseError(f"gzip refused: expands past {limit} bytes (ratio {max_ratio:.0f}:1, total {max_total})", source_format=source_format)
                chunks.append(chunk)
    except ParseError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise ParseError(f"not a readable gzip stream: {exc}", source_format=source_format) from None
    return b"".join(chunks)
