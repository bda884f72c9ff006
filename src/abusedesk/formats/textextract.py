"""Finding subject resources and times in free text written by people.

Complaints, DMCA letters, SpamCop bodies and IODEF descriptions all carry addresses in
prose, often defanged (``hxxp``, ``[.]``) so mail filters leave them alone. Everything here
is linear-time regex work over a bounded amount of text: the text is hostile and may be
large, and nothing found here is ever fetched or rendered.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from abusedesk.resources import Resource, ResourceKind, normalize_domain, normalize_ip, normalize_url

#: characters of text examined per input; the raw input stays whole in the inbox
MAX_SCAN_CHARS = 1_000_000
#: resources kept per kind; a list of 10,000 addresses in prose is a feed, not a complaint
MAX_PER_KIND = 200

_PSL = PublicSuffixList()
#: RFC 2606 / RFC 6761 names that are real in tests and documentation but not in the PSL
_SPECIAL_TLDS = frozenset({"test", "example"})
#: TLDs that are also common file extensions: only believed after ``www.`` or in a URL
_FILE_LIKE_TLDS = frozenset({
    "py", "sh", "md", "pl", "rs", "zip", "mov", "exe", "log", "conf", "cfg", "ini", "js", "so",
    "php", "asp", "sql", "gz", "tar", "bin", "dat", "tmp", "bak", "csv", "doc", "pdf", "txt", "png",
    "jpg", "gif", "html", "htm", "xml", "json", "yml", "yaml", "lock", "service", "d", "ps", "rb",
})

# --- refanging --------------------------------------------------------------------------

_REFANG = [
    (re.compile(r"\b(h[xX]{2}p|h\*\*p)(s?)(\[?:\]?//|\[://\])", re.IGNORECASE), r"http\2://"),
    (re.compile(r"\bfxp(s?)(\[?:\]?//|\[://\])", re.IGNORECASE), r"ftp\1://"),
    # "[dot]" and "(dot)" are gone by now: refang() drops them with their spaces first
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\{dot\}", re.IGNORECASE), "."),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[://\]"), "://"),
    (re.compile(r"\[/\]"), "/"),
    (re.compile(r"\[at\]|\(at\)|\[@\]", re.IGNORECASE), "@"),
]
_DEFANGED = re.compile(r"hxxp|h\*\*p|fxp|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\[:\]|\[://\]", re.IGNORECASE)
_DOT_WORD = re.compile(r"\s*(\[dot\]|\(dot\))\s*", re.IGNORECASE)


def refang(text: str) -> str:
    """Undo the usual defanging so ``hxxp://evil[.]example`` reads as a URL again."""
    if not _DEFANGED.search(text):
        return text
    # " [dot] " with spaces around: drop the spaces together with the marker
    text = _DOT_WORD.sub(".", text)
    for pattern, replacement in _REFANG:
        text = pattern.sub(replacement, text)
    return text


# --- HTML -------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Keeps text and link targets; drops script, style and every tag."""

    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "object"})
    _BREAK = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.links: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.chunks.append("\n")
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value and len(self.links) < MAX_PER_KIND:
                    self.links.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Visible text and ``href`` targets of an HTML body; no markup survives."""
    parser = _TextExtractor()
    # HTMLParser is lenient, but hostile input finds corners: keep what was read so far
    with contextlib.suppress(Exception):
        parser.feed(html[:MAX_SCAN_CHARS])
        parser.close()
    text = "".join(parser.chunks)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip(), parser.links


# --- addresses --------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\d|\.\d)")
IPV4_FULL = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_IPV6_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![0-9A-Za-z:]|\.\d)"
)
_URL_RE = re.compile(r"\b(?:https?|ftps?)://[^\s<>\"'`{}|\\^\[\]]{1,2000}", re.IGNORECASE)
_WWW_RE = re.compile(r"(?<![\w.@/-])www\.[a-z0-9.-]+\.[a-z]{2,63}(?:/[^\s<>\"'`{}|\\^\[\]]*)?", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,63}")
_DOMAIN_RE = re.compile(
    r"(?<![\w.@/-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,10}[a-z][a-z0-9-]{0,61}[a-z0-9])(?![\w@-]|\.\w)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}>'\"*"

_NOT_SUBJECT_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    )
)


def is_internal_ip(value: str) -> bool:
    """Private, loopback, link-local, multicast, reserved: never a subject of a complaint.

    Documentation ranges (192.0.2.0/24 ...) count as public on purpose: Python calls them
    private, but examples and tests use them as real internet addresses.
    """
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return True
    return any(address.version == net.version and address in net for net in _NOT_SUBJECT_NETS)


def _clean_url(raw: str) -> str:
    """Drop sentence punctuation after a URL; a ``)`` stays when the URL opened one."""
    url = raw
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def registered_domain(name: str) -> str | None:
    """``mail.example.co.uk`` → ``example.co.uk``; ``None`` for names without a known suffix."""
    try:
        domain = normalize_domain(name)
    except ValueError:
        return None
    labels = domain.split(".")
    if labels[-1] in _SPECIAL_TLDS:
        return ".".join(labels[-2:])
    found = _PSL.privatesuffix(domain, accept_unknown=False)
    return str(found) if found else None


def is_known_domain(name: str) -> bool:
    """A name under a real public suffix (or ``.test``/``.example``), not a file name."""
    labels = name.lower().split(".")
    if len(labels) < 2:
        return False
    tld = labels[-1]
    if tld in _SPECIAL_TLDS:
        return True
    if tld in _FILE_LIKE_TLDS and labels[0] != "www":
        return False
    return _PSL.publicsuffix(name.lower(), accept_unknown=False) is not None and registered_domain(name) is not None


def within(domain: str, parents: Iterable[str]) -> bool:
    """True when ``domain`` is one of ``parents`` or below one."""
    return any(domain == p or domain.endswith("." + p) for p in parents if p)


@dataclass
class Found:
    """What one text yielded, in order of first appearance."""

    ips: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    #: addresses named as the destination (``DST=``): the complainant's side of a log line
    victim_ips: set[str] = field(default_factory=set)

    def resources(self) -> list[Resource]:
        url_hosts = {(urlsplit(u).hostname or "").lower() for u in self.urls}
        out = [Resource(ResourceKind.IP, ip) for ip in self.ips if ip not in self.victim_ips]
        out += [Resource(ResourceKind.URL, u) for u in self.urls]
        out += [Resource(ResourceKind.DOMAIN, d) for d in self.domains if d not in url_hosts]
        return out


_VICTIM = re.compile(
    r"(?:\bDST=|\bdst[=:]\s*|\bdestination(?: ip| address)?[=:]?\s+|\bZiel(?:-?IP|adresse)?[=:]?\s+|->\s*)"
    r"(\[?[0-9A-Fa-f:.]{3,45}\]?)",
    re.IGNORECASE,
)


_LINK_SCHEME = re.compile(r"(?:https?|ftps?)://", re.IGNORECASE)


def _add(target: list[str], seen: set[str], value: str) -> None:
    if value not in seen and len(target) < MAX_PER_KIND:
        seen.add(value)
        target.append(value)


def extract(text: str, *, links: Iterable[str] = (), want_domains: bool = True) -> Found:
    """IPs (v4 and v6), URLs, bare domains and e-mail addresses in ``text``, normalized."""
    text = refang(text[:MAX_SCAN_CHARS])
    found = Found()
    seen: set[str] = set()
    spans: list[tuple[int, int]] = []

    for match in _URL_RE.finditer(text):
        spans.append(match.span())
        _add_url(found, seen, _clean_url(match.group(0)))
    for link in links:
        link = refang(link)
        if _LINK_SCHEME.match(link):
            _add_url(found, seen, _clean_url(link))
    for match in _WWW_RE.finditer(text):
        if not _inside(match.start(), spans):
            spans.append(match.span())
            _add_url(found, seen, "http://" + _clean_url(match.group(0)))

    rejected: set[str] = set()  # logs repeat one address thousands of times
    positions: dict[str, int] = {}
    for match in IPV4_RE.finditer(text):
        value = match.group(0)
        if value in seen or value in rejected:
            continue
        if _inside(match.start(), spans) or is_internal_ip(value):
            rejected.add(value)
            continue
        positions.setdefault(value, match.start())
        _add(found.ips, seen, value)
    if ":" in text:
        for match in _IPV6_CANDIDATE.finditer(text):
            candidate = match.group(0)
            if "::" not in candidate and not any(c.isalpha() for c in candidate):
                continue  # times like 10:00:01
            if _inside(match.start(), spans):
                continue
            try:
                value = normalize_ip(candidate)
            except ValueError:
                continue
            if not is_internal_ip(value):
                positions.setdefault(value, match.start())
                _add(found.ips, seen, value)
    # the order of first appearance, v4 and v6 together: the first named is the subject
    # a reader would name first
    found.ips.sort(key=lambda value: positions.get(value, len(text)))
    for match in _VICTIM.finditer(text):
        try:
            found.victim_ips.add(normalize_ip(match.group(1)))
        except ValueError:
            continue

    for match in _EMAIL_RE.finditer(text):
        spans.append(match.span())
        _add(found.emails, seen, match.group(0).lower())
    if want_domains:
        for match in _DOMAIN_RE.finditer(text):
            if _inside(match.start(), spans):
                continue
            name = match.group(1).lower()
            if IPV4_FULL.fullmatch(name) or not is_known_domain(name):
                continue
            try:
                _add(found.domains, seen, normalize_domain(name))
            except ValueError:
                continue
    return found


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _add_url(found: Found, seen: set[str], raw: str) -> None:
    try:
        url = normalize_url(raw)
    except ValueError:
        return
    host = urlsplit(url).hostname or ""
    if not host or (IPV4_FULL.fullmatch(host) and is_internal_ip(host)):
        return
    if not IPV4_FULL.fullmatch(host) and ":" not in host and not is_known_domain(host):
        return
    _add(found.urls, seen, url)


# --- times ------------------------------------------------------------------------------

#: abbreviations people write after a time; ambiguous ones (IST, CST in Asia) take the
#: meaning most common in abuse mail, which is written in Europe and North America
ZONES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "BST": 60, "WEST": 60, "CET": 60, "MEZ": 60,
    "CEST": 120, "MESZ": 120, "EET": 120, "EEST": 180, "MSK": 180, "EST": -300, "EDT": -240,
    "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540,
    "AKDT": -480, "HST": -600, "JST": 540, "KST": 540, "AEST": 600, "AEDT": 660, "NZST": 720,
    "NZDT": 780, "SGT": 480, "HKT": 480,
}
_MONTHS = {
    m: i + 1
    for i, names in enumerate([
        ("jan", "januar", "january", "jän"), ("feb", "februar", "february"), ("mar", "mär", "märz", "march", "mrz"),
        ("apr", "april"), ("may", "mai"), ("jun", "juni", "june"), ("jul", "juli", "july"),
        ("aug", "august"), ("sep", "sept", "september"), ("oct", "okt", "oktober", "october"),
        ("nov", "november"), ("dec", "dez", "dezember", "december"),
    ])
    for m in names
}
_ZONE = r"(?:\s*(?P<zone>Z|[+-]\d{2}:?\d{2}|\(?(?:" + "|".join(sorted(ZONES, key=len, reverse=True)) + r")\)?)(?![A-Za-z]))?"
_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d{1,9})?)?(?:\s*Uhr)?"
_TIME_PATTERNS = [
    # ISO 8601 and the SQL-ish form: 2026-01-31T10:00:00Z, 2026-01-31 10:00:00 +0100
    re.compile(rf"\b(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})[T ]{_TIME}{_ZONE}"),
    # RFC 2822: Sat, 31 Jan 2026 10:00:00 +0100 (also German month names)
    re.compile(rf"\b(?P<d>\d{{1,2}})\.?\s+(?P<mon>[A-Za-zäÄ]{{3,9}})\.?\s+(?P<y>\d{{4}}),?\s+(?:um\s+)?{_TIME}{_ZONE}"),
    # German: 31.01.2026 10:00:00 MEZ, 31.01.2026 um 10:00 Uhr
    re.compile(rf"\b(?P<d>\d{{1,2}})\.(?P<m>\d{{1,2}})\.(?P<y>\d{{4}}),?\s+(?:um\s+)?{_TIME}{_ZONE}"),
    # Apache/nginx access log: [31/Jan/2026:10:00:00 +0100]
    re.compile(rf"\[(?P<d>\d{{2}})/(?P<mon>[A-Za-z]{{3}})/(?P<y>\d{{4}}):{_TIME}{_ZONE}\]"),
    # 2026/01/31 10:00:00
    re.compile(rf"\b(?P<y>\d{{4}})/(?P<m>\d{{2}})/(?P<d>\d{{2}})[ T]{_TIME}{_ZONE}"),
    # Month-first: Jan 31 2026 10:00:00 UTC, January 31, 2026 10:00 EST
    re.compile(rf"\b(?P<mon>[A-Za-z]{{3,9}})\.?\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}}),?\s+(?:at\s+)?{_TIME}{_ZONE}"),
    # syslog without a year: Jan 31 10:00:01 (year and zone come from the mail)
    re.compile(rf"(?m)^(?:<\d+>)?(?P<mon>[A-Z][a-z]{{2}})\s+(?P<d>\d{{1,2}})\s+{_TIME}\b"),
]


@dataclass(frozen=True, slots=True)
class FoundTime:
    value: datetime
    #: the writer named the zone; otherwise the mail's zone (or UTC) was assumed
    zone_given: bool
    text: str


def _zone_offset(zone: str | None) -> timezone | None:
    if not zone:
        return None
    zone = zone.strip("() ")
    if zone.upper() in ZONES:
        return timezone(timedelta(minutes=ZONES[zone.upper()]))
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4])
    if hours > 14 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def find_times(text: str, *, default_zone: timezone | None = None, reference: datetime | None = None, limit: int = 50) -> list[FoundTime]:
    """Timestamps written in ``text``, converted to UTC.

    A time without a zone takes ``default_zone`` (the mail's own ``Date`` offset: a log
    pasted into a mail is most likely in the writer's local time), else UTC; a syslog
    line without a year takes the year of ``reference`` (the mail's date), or the year
    before when that would put the event in the future.
    """
    text = text[:MAX_SCAN_CHARS]
    out: list[FoundTime] = []
    seen_spans: list[tuple[int, int]] = []
    for pattern in _TIME_PATTERNS:
        for match in pattern.finditer(text):
            if _inside(match.start(), seen_spans):
                continue
            parsed = _build_time(match, default_zone, reference)
            if parsed is None:
                continue
            seen_spans.append(match.span())
            out.append(parsed)
            if len(out) >= limit:
                return out
    return out


def _build_time(match: re.Match[str], default_zone: timezone | None, reference: datetime | None) -> FoundTime | None:
    groups = match.groupdict()
    try:
        if groups.get("mon"):
            month = _MONTHS.get(groups["mon"].lower().rstrip("."))
            if month is None:
                return None
        else:
            month = int(groups["m"])
        year_text = groups.get("y")
        day, hour, minute = int(groups["d"]), int(groups["H"]), int(groups["M"])
        second = int(groups["S"] or 0)
        zone = _zone_offset(groups.get("zone"))
        zone_given = zone is not None
        tz = zone or default_zone or UTC
        if year_text is None:
            ref = reference or datetime.now(UTC)
            year = ref.year
            candidate = datetime(year, month, day, hour, minute, second, tzinfo=tz)
            if candidate - ref > timedelta(days=2):
                candidate = candidate.replace(year=year - 1)
        else:
            candidate = datetime(int(year_text), month, day, hour, minute, second, tzinfo=tz)
    except (ValueError, OverflowError):
        return None
    if not 1990 <= candidate.year <= 2100:
        return None
    return FoundTime(candidate.astimezone(UTC), zone_given, match.group(0).strip())


def earliest_plausible(times: Iterable[FoundTime], reference: datetime | None) -> FoundTime | None:
    """The earliest time that is not after the mail was written and not years before it."""
    candidates = list(times)
    if reference is not None:
        ref = reference.astimezone(UTC)
        candidates = [t for t in candidates if ref - timedelta(days=400) <= t.value <= ref + timedelta(days=1)]
    return min(candidates, key=lambda t: t.value, default=None)
