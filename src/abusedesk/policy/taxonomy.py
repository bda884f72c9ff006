"""The category list: the one place that names every abuse category.

Ids are stable API (JSON, database, URLs). Everything else imports :class:`Category`;
nothing else spells the list out. See ``TAXONOMY.md``.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    CONTENT_ILLEGAL = "content.illegal"
    CONTENT_FRAUD = "content.fraud"
    CONTENT_PHISHING = "content.phishing"
    CONTENT_CSAM = "content.csam"
    CONTENT_INFRINGING = "content.infringing"
    CONTENT_OFFENSIVE = "content.offensive"
    CONTENT_MALWARE = "content.malware"
    SECURITY_SCAN = "security.scan"
    SECURITY_BRUTEFORCE = "security.bruteforce"
    SECURITY_INTRUSION = "security.intrusion"
    SECURITY_INTERCEPTION = "security.interception"
    SECURITY_SPOOFING = "security.spoofing"
    NETWORK_CRAWLING = "network.crawling"
    NETWORK_DOS = "network.dos"
    NETWORK_FLOODING = "network.flooding"
    NETWORK_OPEN_RESOLVER = "network.open_resolver"
    NETWORK_OPEN_RELAY = "network.open_relay"
    NETWORK_OPEN_PROXY = "network.open_proxy"
    NETWORK_RESTRICTION_EVASION = "network.restriction_evasion"
    EMAIL_SPAM = "email.spam"
    EMAIL_FORGERY = "email.forgery"
    EMAIL_REPLY_COLLECTION = "email.reply_collection"
    INFO_VULNERABLE = "info.vulnerable"
    OTHER_UNCLASSIFIED = "other.unclassified"

    @property
    def group(self) -> str:
        """The part before the dot: content, security, network, email, info, other."""
        return self.value.split(".", 1)[0]


#: ``ServiceName`` / ``service`` values of open-service reports that are policy breaches.
OPEN_SERVICE_CATEGORIES: dict[str, Category] = {
    "dns": Category.NETWORK_OPEN_RESOLVER,
    "domain": Category.NETWORK_OPEN_RESOLVER,
    "resolver": Category.NETWORK_OPEN_RESOLVER,
    "open_resolver": Category.NETWORK_OPEN_RESOLVER,
    "smtp": Category.NETWORK_OPEN_RELAY,
    "smtp_relay": Category.NETWORK_OPEN_RELAY,
    "open_relay": Category.NETWORK_OPEN_RELAY,
    "mail_relay": Category.NETWORK_OPEN_RELAY,
    "proxy": Category.NETWORK_OPEN_PROXY,
    "http_proxy": Category.NETWORK_OPEN_PROXY,
    "http-proxy": Category.NETWORK_OPEN_PROXY,
    "open_proxy": Category.NETWORK_OPEN_PROXY,
    "socks": Category.NETWORK_OPEN_PROXY,
    "socks4": Category.NETWORK_OPEN_PROXY,
    "socks5": Category.NETWORK_OPEN_PROXY,
}


def open_service_category(service: str | None) -> Category:
    """An open-service report is a breach only for resolvers, relays and proxies."""
    if not service:
        return Category.INFO_VULNERABLE
    key = service.strip().lower().replace(" ", "_")
    return OPEN_SERVICE_CATEGORIES.get(key, Category.INFO_VULNERABLE)


def parse_category(value: str) -> Category:
    """Turn an id into a :class:`Category` with a clear error listing the valid ids."""
    try:
        return Category(value)
    except ValueError:
        valid = ", ".join(c.value for c in Category)
        raise ValueError(f"unknown category {value!r}; valid ids: {valid}") from None
