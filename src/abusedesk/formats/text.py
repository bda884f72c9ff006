"""Complaints written by people: the fallback for any mail no machine format claims.

Most abuse mail is a person pasting a log, forwarding a spam or describing a phishing
site, in English or German, as plain text, HTML or both. This parser finds the subject
(addresses, URLs, domains), the time with its zone, and a category from what the text
shows; when it cannot tell, the report is ``other.unclassified`` and a human reads it.
It never fails on a readable mail: a complaint with nothing extractable is still one
report, because dropping it would lose a complaint.

The complainant's own addresses are never the subject: the From domain, the servers in
the Received headers of the complaint itself, and the hops of a forwarded spam that sit
inside the complainant's network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import Any

from abusedesk.formats.base import ParsedReport, Reporter, excerpt, unique_resources
from abusedesk.formats.mail import (
    addresses,
    attached_message,
    filename,
    header,
    part_text,
    payload_of,
    received,
    reporter_from,
)
from abusedesk.formats.received import hop_domains, hop_ips, last_external_hop
from abusedesk.formats.textextract import (
    MAX_PER_KIND,
    MAX_SCAN_CHARS,
    Found,
    earliest_plausible,
    extract,
    find_times,
    html_to_text,
    registered_domain,
    within,
)
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, url_host
from abusedesk.timeutil import as_utc

FORMAT = "text"
MAX_DEPTH = 8
MAX_PARTS = 200
#: spamvertised links kept from one forwarded spam; the rest are tracking noise
MAX_SPAM_URLS = 20

# --- classification: one table, (category, pattern, weight) --------------------------------
# Log lines are strong evidence (weight 4+), words in the complainant's text are weaker
# (2-3), and generic words (1) only tip a balance. English and German.
_SIGNALS: list[tuple[Category, str, int]] = [
    (Category.SECURITY_BRUTEFORCE, r"failed password for|authentication failure|invalid user \S+ from|"
     r"sasl(?: login)? authentication failed|failed login|login attempts?|fehlgeschlagene anmeld", 4),
    (Category.SECURITY_BRUTEFORCE, r"brute[- ]?forc|password guessing|dictionary attack|credential stuffing|"
     r"anmeldeversuche|passwort-?(?:rate|angriff)|wörterbuchangriff", 3),
    (Category.SECURITY_BRUTEFORCE, r"\b(?:ssh|rdp|smtp auth|wp-login\.php|xmlrpc\.php)\b|fail2ban", 1),
    (Category.SECURITY_SCAN, r"\bdpt=\d+|ufw block|port ?scan|portscanning|nmap|masscan|"
     r"scanning (?:our|my)|gescannt|scannt|abgetastet", 4),
    (Category.SECURITY_SCAN, r"\bscan(?:s|ner|ning)?\b|probing|probes?\b|reconnaissance|unauthori[sz]ed connection", 2),
    (Category.NETWORK_DOS, r"\bd?dos\b|denial[- ]of[- ]service|syn[- ]flood|udp[- ]flood|amplification attack|"
     r"überlastungsangriff|dienstblockade", 4),
    (Category.NETWORK_DOS, r"\bflood(?:ing|ed)?\b|gbit/s|mpps|\bpps\b", 2),
    (Category.CONTENT_PHISHING, r"phish|credential theft|fake login|fake (?:bank|paypal)|gefälschte (?:login|anmelde|bank)|"
     r"zugangsdaten ab", 4),
    (Category.CONTENT_PHISHING, r"impersonat|verify your account|konto (?:bestätigen|verifizieren)", 2),
    (Category.CONTENT_MALWARE, r"malware|trojan|ransomware|botnet|command[- ]and[- ]control|\bc2\b|\bc&c\b|"
     r"schadsoftware|schadcode|trojaner|virus|viren|infected file|drive-by", 4),
    (Category.CONTENT_CSAM, r"child (?:sexual )?abuse|\bcsam\b|child pornograph|kinderporno|"
     r"missbrauchsdarstellung|kindesmissbrauch", 8),
    (Category.CONTENT_INFRINGING, r"copyright|\bdmca\b|infring|urheberrecht|markenrecht|trademark", 4),
    (Category.SECURITY_INTRUSION, r"exploit|sql[- ]?injection|remote code execution|\brce\b|hacked|compromised|"
     r"intrusion|webshell|web shell|/etc/passwd|\.\./\.\./|shellshock|log4j|gehackt|eingebrochen|kompromittiert", 3),
    (Category.NETWORK_OPEN_RESOLVER, r"open (?:dns )?resolver|offener (?:dns-)?resolver|recursive dns", 5),
    (Category.NETWORK_OPEN_RELAY, r"open (?:mail )?relay|offenes relay", 5),
    (Category.NETWORK_OPEN_PROXY, r"open (?:http |socks )?proxy|offener proxy", 5),
    (Category.CONTENT_FRAUD, r"\bscam|fraud|fake[- ]?shop|advance[- ]fee|betrug|betrüger|abzocke|vorkasse", 3),
    (Category.CONTENT_OFFENSIVE, r"defamat|harass|threat(?:en)?|beleidig|verleumd|belästig|bedroh|doxx", 3),
    (Category.NETWORK_CRAWLING, r"crawl|scrap(?:er|ing)|aggressive bot|user-agent .*bot", 3),
    (Category.EMAIL_SPAM, r"\bspam|unsolicited|unerwünschte (?:e-?mail|werbung|nachricht)|junk mail|\buce\b|"
     r"newsletter (?:without|ohne)|werbemail", 3),
    (Category.EMAIL_FORGERY, r"spoofed (?:sender|from)|forged (?:header|sender)|gefälschter absender", 3),
]
#: patterns are lower case and run over lower-cased text: IGNORECASE costs 3x on long logs
_COMPILED = [(category, re.compile(pattern), weight) for category, pattern, weight in _SIGNALS]
#: the words that classify a complaint come first; a long log repeats its first lines
CLASSIFY_CHARS = 50_000
#: a category needs this much evidence; less is ``other.unclassified``
_THRESHOLD = 3
#: forwarding a whole mail is itself a sign that the mail was unwanted
_FORWARD_SPAM_WEIGHT = 3

_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,40}):[ \t]")
_QUOTE = re.compile(r"^>(?: (?=\S)|(?=\s)|$)")
_FORWARD_MARKER = re.compile(
    r"^[ >]*(?:-{2,}\s*(?:forwarded message|original message|weitergeleitete nachricht|ursprüngliche nachricht)"
    r"\s*-{2,}|begin forwarded message:|anfang der weitergeleiteten nachricht:)",
    re.IGNORECASE | re.MULTILINE,
)


def classify(text: str, *, forwarded_mail: bool = False) -> tuple[Category, float, dict[str, int]]:
    """Category, confidence 0..1 and the score table, from what the text shows."""
    scores: dict[Category, int] = {}
    lowered = text[:CLASSIFY_CHARS].lower()
    for category, pattern, weight in _COMPILED:
        hits = len(pattern.findall(lowered))
        if hits:
            scores[category] = scores.get(category, 0) + weight * min(hits, 3)
    if forwarded_mail:
        scores[Category.EMAIL_SPAM] = scores.get(Category.EMAIL_SPAM, 0) + _FORWARD_SPAM_WEIGHT
    table = {c.value: s for c, s in sorted(scores.items(), key=lambda item: -item[1])}
    if not scores:
        return Category.OTHER_UNCLASSIFIED, 0.0, table
    best, score = max(scores.items(), key=lambda item: item[1])
    if score < _THRESHOLD:
        return Category.OTHER_UNCLASSIFIED, 0.0, table
    # CSAM is never outvoted: a mention routes to the legal role, who decide
    if Category.CONTENT_CSAM in scores:
        best = Category.CONTENT_CSAM
    total = sum(scores.values())
    return best, round(scores[best] / total, 2), table


@dataclass
class _Collected:
    """The parts of one mail, sorted by whose words they are."""

    own_text: list[str] = field(default_factory=list)
    own_links: list[str] = field(default_factory=list)
    forwarded: list[Message] = field(default_factory=list)
    #: headers and body of a spam pasted inline into the complaint
    inline_headers: list[str] = field(default_factory=list)
    inline_bodies: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    parts: int = 0
    truncated: bool = False


def detect_mail(message: EmailMessage) -> bool:
    """Always: this is the last mail format tried, so anything readable is a complaint."""
    return True


def parse_mail(message: Message) -> list[ParsedReport]:
    collected = _Collected()
    _collect(message, collected, 0)
    subject = header(message, "Subject")
    mail_date = _mail_date(message)
    reporter = reporter_from(message)

    own_domains, own_ips, provider_domains = _own_addresses(message, reporter)
    own_parts: list[str] = []
    for text in collected.own_text:
        split = _split_inline_forward(text)
        if split is None:
            own_parts.append(text)
            continue
        own_parts.append(split[0])
        collected.inline_headers.append(split[1])
        collected.inline_bodies.append(split[2])
    own_text = "\n\n".join(own_parts)

    found = extract(f"{subject}\n{own_text}", links=collected.own_links)
    forwarded_mail = bool(collected.forwarded or collected.inline_headers)
    category, confidence, scores = classify(f"{subject}\n{own_text}", forwarded_mail=forwarded_mail)

    fields: dict[str, Any] = {"subject": subject, "scores": scores}
    hop_resources, spam_urls, hop_time = _forwarded_subjects(collected, own_domains, own_ips, fields)

    resources = hop_resources + _filter(found, own_domains, own_ips, provider_domains) + spam_urls
    resources = unique_resources(resources)[: MAX_PER_KIND * 2]

    default_zone = mail_date.tzinfo if mail_date and isinstance(mail_date.tzinfo, timezone) else None
    times = find_times(own_text, default_zone=default_zone, reference=mail_date)
    chosen = earliest_plausible(times, mail_date)
    occurred_at: datetime | None
    if chosen is not None:
        occurred_at = chosen.value
        fields["occurred_at_source"] = "text" if chosen.zone_given else "text, zone assumed from the mail's Date"
        fields["occurred_at_text"] = chosen.text
    elif hop_time is not None:
        occurred_at, fields["occurred_at_source"] = hop_time, "forwarded mail's Received header"
    elif mail_date is not None:
        occurred_at, fields["occurred_at_source"] = as_utc(mail_date), "complaint's Date header"
    else:
        occurred_at = None
    if collected.attachments:
        fields["attachments"] = collected.attachments
    if collected.truncated:
        fields["truncated"] = f"text parts were read up to {MAX_SCAN_CHARS} characters each"
    if not resources:
        fields["note"] = "no address, URL or domain found: a human has to read this complaint"

    summary = f"Complaint from {reporter.email or reporter.name or 'unknown sender'}: {subject or '(no subject)'}"
    return [
        ParsedReport(
            source_format=FORMAT,
            category=category,
            resources=resources,
            occurred_at=occurred_at,
            reporter=reporter,
            summary=summary[:300],
            evidence=excerpt(own_text or "\n\n".join(collected.inline_bodies)),
            fields=fields,
            source_id=header(message, "Message-ID") or None,
            confidence=confidence,
        )
    ]


def _collect(part: Message, out: _Collected, depth: int) -> None:
    """Sort parts into the complainant's words, forwarded mails and other attachments."""
    out.parts += 1
    if out.parts > MAX_PARTS or depth > MAX_DEPTH:
        return
    content_type = part.get_content_type()
    if content_type in ("message/rfc822", "message/global", "text/rfc822-headers"):
        inner = _safe_attached(part)
        if inner is not None:
            out.forwarded.append(inner)
        return
    payload = payload_of(part)
    if isinstance(payload, list):
        children = [p for p in payload if isinstance(p, Message)]
        if content_type == "multipart/alternative":
            plain = [p for p in children if p.get_content_type() == "text/plain"]
            children = plain[:1] or children[:1]
        for child in children:
            _collect(child, out, depth + 1)
        return
    name = filename(part)
    if content_type == "text/plain" or (content_type.startswith("text/") and content_type != "text/html"):
        out.own_text.append(_bounded(part_text(part), out))
        if name:
            out.attachments.append(name)
    elif content_type == "text/html":
        text, links = html_to_text(part_text(part))
        out.own_text.append(_bounded(text, out))
        out.own_links.extend(links)
    elif name:
        out.attachments.append(name)


def _bounded(text: str, out: _Collected) -> str:
    """The first :data:`MAX_SCAN_CHARS` of a part: a 25 MB log says what its start says."""
    if len(text) <= MAX_SCAN_CHARS:
        return text
    out.truncated = True
    return text[:MAX_SCAN_CHARS]


def _safe_attached(part: Message) -> Message | None:
    try:
        return attached_message(part)
    except Exception:  # noqa: BLE001 - a broken attachment must not sink the complaint
        return None


def _mail_date(message: Message) -> datetime | None:
    raw = header(message, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else as_utc(value)


def _own_addresses(message: Message, reporter: Reporter) -> tuple[set[str], set[str], set[str]]:
    """The complainant's domains and server addresses, and the provider's own domains."""
    chain = received(message)
    own_domains = {d for d in (registered_domain(a.rpartition("@")[2]) for a in addresses(message, "From", "Sender")) if d}
    if reporter.email:
        domain = registered_domain(reporter.email.rpartition("@")[2])
        if domain:
            own_domains.add(domain)
    own_ips = hop_ips(chain)
    provider_domains = {a.rpartition("@")[2] for a in addresses(message, "To", "Cc", "Delivered-To")}
    # senders in the complaint's own chain are the complainant's servers, never the subject;
    # the receivers are ours, and our customers may live under our domain, so they stay
    provider_registered = {registered_domain(d) for d in provider_domains}
    own_domains |= hop_domains(chain, senders_only=True) - provider_registered
    return own_domains, own_ips, provider_domains


def _filter(found: Found, own_domains: set[str], own_ips: set[str], provider_domains: set[str]) -> list[Resource]:
    out: list[Resource] = []
    for resource in found.resources():
        if resource.kind is ResourceKind.IP and resource.value in own_ips:
            continue
        host = resource.value if resource.kind is ResourceKind.DOMAIN else url_host(resource.value)
        if resource.kind in (ResourceKind.DOMAIN, ResourceKind.URL) and host:
            if resource.kind is ResourceKind.DOMAIN and host in provider_domains:
                continue
            if within(host, own_domains) or within(registered_domain(host) or host, own_domains):
                continue
        out.append(resource)
    return out


def _split_inline_forward(text: str) -> tuple[str, str, str] | None:
    """A spam pasted into the complaint: (complainant's words, header block, spam body).

    A header block is at least three header lines in a row, one of them ``Received:``;
    the lines may be quoted with ``>``.
    """
    raw_lines = text.splitlines()
    lines = [_QUOTE.sub("", line) for line in raw_lines]
    index = 0
    while index < len(lines):
        if not _HEADER_LINE.match(lines[index]):
            index += 1
            continue
        end = index
        names: list[str] = []
        while end < len(lines):
            match = _HEADER_LINE.match(lines[end])
            if match:
                names.append(match.group(1).lower())
            elif not (lines[end][:1] in (" ", "\t") and lines[end].strip()):
                break
            end += 1
        if len(names) >= 3 and "received" in names:
            own = "\n".join(raw_lines[:index])
            marker = _FORWARD_MARKER.search(own)
            if marker:
                own = own[: marker.start()]
            return own, "\n".join(lines[index:end]), "\n".join(lines[end:])
        index = end + 1
    return None


def _forwarded_subjects(collected: _Collected, own_domains: set[str], own_ips: set[str], fields: dict[str, Any]) -> tuple[list[Resource], list[Resource], datetime | None]:
    """The sending hop and spamvertised URLs of every forwarded or pasted spam."""
    hops: list[Resource] = []
    urls: list[Resource] = []
    hop_time: datetime | None = None
    chains: list[tuple[list[str], str]] = []
    for inner in collected.forwarded[:10]:
        chains.append((received(inner), _inner_text(inner)))
    for block, body in zip(collected.inline_headers, collected.inline_bodies, strict=True):
        chains.append((_received_from_block(block), body))
    details: list[dict[str, Any]] = []
    for chain, body in chains:
        hop, skipped = last_external_hop(chain, own_domains, own_ips)
        if hop is not None and hop.from_ip:
            hops.append(Resource(ResourceKind.IP, hop.from_ip))
            hop_time = hop_time or hop.received_at
        details.append({"sending_ip": hop.from_ip if hop else None, "hops": len(chain), "skipped": skipped})
        found = extract(body, want_domains=False)
        kept = _filter(Found(urls=found.urls), own_domains, own_ips, set())
        urls.extend(kept[:MAX_SPAM_URLS])
    if details:
        fields["forwarded"] = details
    return hops, urls, hop_time


def _received_from_block(block: str) -> list[str]:
    """``Received:`` values of a pasted header block, continuation lines joined."""
    out: list[str] = []
    current: list[str] | None = None
    for line in block.splitlines():
        match = _HEADER_LINE.match(line)
        if match:
            if current is not None:
                out.append(" ".join(current))
            current = [line.split(":", 1)[1].strip()] if match.group(1).lower() == "received" else None
        elif current is not None:
            current.append(line.strip())
    if current is not None:
        out.append(" ".join(current))
    return out


def _inner_text(message: Message) -> str:
    """Body text of a forwarded mail, for its links; depth- and size-bounded."""
    collected = _Collected()
    _collect(message, collected, MAX_DEPTH - 3)
    return "\n".join(collected.own_text + collected.own_links)
