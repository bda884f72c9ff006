"""Subject resources of a report and their one normal form.

Every parser, the inventory and the API normalize through here, so the same address
written two ways is the same resource: IPv6 compressed, domains lower case without a
trailing dot (IDNA for non-ASCII), URLs with lower-case scheme and host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit


class ResourceKind(StrEnum):
    IP = "ip"
    URL = "url"
    DOMAIN = "domain"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Resource:
    kind: ResourceKind
    value: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "value": self.value}


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: dotted-quad IPv4 already in canonical form (no leading zeros), the common case
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def normalize_ip(text: str) -> str:
    """``192.0.2.1`` or compressed IPv6; IPv4-mapped IPv6 becomes plain IPv4."""
    candidate = text.strip().strip("[]")
    if _CANONICAL_IPV4.fullmatch(candidate):
        return candidate
    if "%" in candidate:
        candidate = candidate.split("%", 1)[0]
    address = ipaddress.ip_address(candidate)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def is_ip(text: str) -> bool:
    try:
        normalize_ip(text)
    except ValueError:
        return False
    return True


def normalize_domain(text: str) -> str:
    name = text.strip().rstrip(".").lower()
    if not name:
        raise ValueError("empty domain")
    if any(ord(ch) > 127 for ch in name):
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid domain {text!r}: {exc}") from None
    if len(name) > 253:
        raise ValueError(f"domain longer than 253 characters: {text[:40]!r}...")
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"invalid domain {text!r}")
    if labels[-1].isdigit():
        raise ValueError(f"invalid domain {text!r}: the last label is numeric")
    return name


def normalize_url(text: str) -> str:
    """Lower-case scheme and host; path, query and fragment as written."""
    raw = text.strip()
    parts = urlsplit(raw)
    if not parts.scheme:
        raise ValueError(f"URL without a scheme: {text[:80]!r}")
    scheme = parts.scheme.lower()
    if scheme in ("mailto", "tel", "urn", "data"):
        return f"{scheme}:{raw.split(':', 1)[1]}"
    host = parts.hostname
    if not host:
        raise ValueError(f"URL without a host: {text[:80]!r}")
    try:
        host_text = normalize_ip(host)
        if ":" in host_text:
            host_text = f"[{host_text}]"
    except ValueError:
        host_text = normalize_domain(host) if any(ord(c) > 127 for c in host) else host.lower()
    netloc = host_text
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def url_host(url: str) -> str | None:
    """The host of a URL, normalized: an IP or a domain; ``None`` if it has none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        return normalize_ip(host)
    except ValueError:
        pass
    try:
        return normalize_domain(host)
    except ValueError:
        return None


def normalize_email(text: str) -> str:
    address = text.strip().strip("<>")
    local, sep, domain = address.rpartition("@")
    if not sep or not local:
        raise ValueError(f"invalid e-mail address {text!r}")
    return f"{local}@{normalize_domain(domain)}"


def make_resource(kind: ResourceKind | str, value: str) -> Resource:
    """Validate and normalize one resource; raises ``ValueError`` with the reason."""
    kind = ResourceKind(kind)
    if kind is ResourceKind.IP:
        return Resource(kind, normalize_ip(value))
    if kind is ResourceKind.DOMAIN:
        return Resource(kind, normalize_domain(value))
    if kind is ResourceKind.URL:
        return Resource(kind, normalize_url(value))
    return Resource(kind, normalize_email(value))


def guess_resource(value: str) -> Resource:
    """Kind by shape: an IP, a URL, an e-mail address, else a domain."""
    text = value.strip()
    try:
        return Resource(ResourceKind.IP, normalize_ip(text))
    except ValueError:
        pass
    if "://" in text:
        return make_resource(ResourceKind.URL, text)
    if "@" in text:
        return make_resource(ResourceKind.EMAIL, text)
    return make_resource(ResourceKind.DOMAIN, text)
