"""Rules for inbound mail: what is a loop (store, never parse) and whom we must not answer.

Two different questions, kept apart on purpose:

* **Ignore** (:func:`loop_reason`): mail that must never become reports, because it is our
  own mail coming back or a bounce. Parsing it would open cases about our own notices and,
  worse, answer them: the classic mail loop. Such mail is still stored raw (nothing is
  lost) and marked ``ignored`` with the reason.
* **Do not reply** (:func:`ack_refusal`): mail that we process normally but must not
  auto-acknowledge (the autoresponder rules of REFERENCE.md §2.3 and RFC 3834).

``Auto-Submitted`` sits between the two. Machine abuse reports (ARF feedback loops, XARF,
X-ARF, SpamCop, Shadowserver) are *typically* ``Auto-Submitted: auto-generated`` and are
exactly the mail this desk exists for, so they are processed; we only never reply to them.
Other automatic mail (``auto-replied`` vacation notices, ticket-system robots, and
``auto-generated`` mail in no machine-report format) is ignored, unless it names one of
our cases, in which case it is kept as correspondence on that case (see ``replies``):
the loop rule is about not answering robots and not reading our own mail back, not about
losing what a robot tells us about a case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import Any

from abusedesk.formats import registry
from abusedesk.formats.mail import header

#: mail formats that are generic fallbacks: any readable mail matches them, so their
#: saying yes does not make a mail a *machine* report
_FALLBACK_FORMATS = frozenset({"text", "dmca"})

#: local parts nobody reads, or that are robots themselves (RFC 2142 / RFC 3834 §2)
_ROLE_LOCAL = re.compile(
    r"^(?:mailer-daemon|postmaster|listserv|majordomo|mailman|owner-.*|.*-request|bounces?(?:[-+._].*)?|.*[-+._]bounces?"
    r"|.*no[-_.]?reply.*|.*do[-_.]?not[-_.]?reply.*|.*noreply.*)$",
    re.IGNORECASE,
)
_MSGID_DOMAIN = re.compile(r"@([^>@\s]+)>?\s*$")
_PRECEDENCE_NO_REPLY = frozenset({"bulk", "list", "junk"})


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the SMTP session said, which the message headers may contradict.

    ``mail_from`` is ``""`` for the null reverse-path ``<>`` and ``None`` when the input did
    not arrive by SMTP (a file, the API), where no envelope exists.
    """

    mail_from: str | None = None
    rcpt_tos: tuple[str, ...] = ()
    peer: str | None = None
    helo: str | None = None

    def as_meta(self) -> dict[str, Any]:
        return {"mail_from": self.mail_from, "rcpt_tos": list(self.rcpt_tos), "peer": self.peer, "helo": self.helo}

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Envelope:
        smtp = (meta or {}).get("smtp")
        if not isinstance(smtp, dict):
            return cls()
        rcpts = smtp.get("rcpt_tos") or []
        mail_from = smtp.get("mail_from")
        return cls(
            mail_from=str(mail_from) if mail_from is not None else None,
            rcpt_tos=tuple(str(r) for r in rcpts if isinstance(r, str)),
            peer=str(smtp["peer"]) if smtp.get("peer") else None,
            helo=str(smtp["helo"]) if smtp.get("helo") else None,
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who "we" are on the wire: the addresses we send from and receive at, our Message-IDs."""

    addresses: frozenset[str] = field(default_factory=frozenset)
    message_id_domains: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, notice_from: str, abuse_addresses: Iterable[str], message_id_domains: Iterable[str] = ()) -> Identity:
        own = {parseaddr(notice_from)[1].lower(), *(parseaddr(a)[1].lower() for a in abuse_addresses)}
        own.discard("")
        domains = {d.lower().strip() for d in message_id_domains if d.strip()}
        if not domains:
            domain = parseaddr(notice_from)[1].rpartition("@")[2].lower()
            if domain:
                domains.add(domain)
        return cls(frozenset(own), frozenset(domains))

    def owns_address(self, address: str) -> bool:
        """Ours, including plus-addressed forms (``abuse+AD-2026-000001@``) of our addresses."""
        address = address.lower()
        if address in self.addresses:
            return True
        local, _, domain = address.rpartition("@")
        base = local.split("+", 1)[0]
        return f"{base}@{domain}" in self.addresses


def _addresses(message: Message, *names: str) -> list[str]:
    values = [header(message, name) for name in names]
    return [addr.lower() for _, addr in getaddresses([v for v in values if v]) if "@" in addr]


def auto_submitted(message: Message) -> str | None:
    """The ``Auto-Submitted`` keyword (RFC 3834), lower case, or None when absent or ``no``."""
    value = header(message, "Auto-Submitted").split(";", 1)[0].strip().lower()
    return None if value in ("", "no") else value


def message_id_domain(value: str) -> str | None:
    match = _MSGID_DOMAIN.search(value.strip())
    return match.group(1).lower() if match else None


def report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    return value.lower() if isinstance(value, str) else None


def is_machine_report(message: EmailMessage) -> bool:
    """A report a program wrote for programs to read (ARF, XARF, X-ARF, SpamCop, Shadowserver ...).

    Asks the formats registry's own detectors, so a format added there is recognized here
    without a second list; the free-text and DMCA-letter fallbacks do not count.
    """
    if report_type(message) == "feedback-report":
        return True
    if header(message, "X-ARF").lower() == "yes" or header(message, "X-XARF"):
        return True
    for mail_format in registry.MAIL_FORMATS:
        if mail_format.name in _FALLBACK_FORMATS:
            continue
        try:
            if mail_format.detect(message):
                return True
        except Exception:  # noqa: BLE001, S112 - a detector choking on hostile mail just says no
            continue
    return False


def is_role_address(address: str) -> bool:
    local = address.rpartition("@")[0] if "@" in address else address
    return bool(_ROLE_LOCAL.match(local.strip()))


def own_mail_reason(message: Message, identity: Identity) -> str | None:
    """Our own notices coming back: by From/Resent-From/Sender or by our Message-ID domain."""
    for address in _addresses(message, "From", "Resent-From", "Sender"):
        if identity.owns_address(address):
            return f"own mail: sent from our address {address}"
    domain = message_id_domain(header(message, "Message-ID"))
    if domain and domain in identity.message_id_domains:
        return f"own mail: Message-ID in our domain {domain}"
    return None


def bounce_reason(message: EmailMessage, envelope: Envelope) -> str | None:
    """Delivery status notifications, read receipts and mail from MAILER-DAEMON.

    A null reverse-path alone means a bounce, except on a machine report: some feedback
    loops send ARF from ``<>`` precisely so that nobody answers them.
    """
    kind = report_type(message)
    if kind in ("delivery-status", "disposition-notification"):
        return f"bounce: multipart/report; report-type={kind}"
    for address in _addresses(message, "From"):
        if address.partition("@")[0] == "mailer-daemon":
            return "bounce: From MAILER-DAEMON"
    if envelope.mail_from == "" and not is_machine_report(message):
        return "bounce: null reverse-path <>"
    return None


def loop_reason(message: EmailMessage, envelope: Envelope, identity: Identity) -> str | None:
    """Why this mail must be stored but never parsed, or None. Own mail first, then bounces."""
    return own_mail_reason(message, identity) or bounce_reason(message, envelope)


def automatic_reason(message: EmailMessage) -> str | None:
    """Why automatic mail is ignored when it names no case: see the module docstring."""
    value = auto_submitted(message)
    if value is None:
        return None
    if value == "auto-replied":
        return "auto-replied (RFC 3834): a vacation or auto-response"
    if is_machine_report(message):
        return None
    return f"Auto-Submitted: {value}, and not a machine report format"


def ack_recipient(message: Message, envelope: Envelope) -> str | None:
    """Where an acknowledgement goes: the envelope sender (RFC 3834 §4), else ``From``."""
    if envelope.mail_from is not None:
        return envelope.mail_from.lower() or None
    found = _addresses(message, "From")
    return found[0] if found else None


def _topmost_spf_fail(message: Message) -> bool:
    """Only the topmost result is our MTA's; lower ones may be written by the sender."""
    spf = header(message, "Received-SPF").lower()
    if spf.startswith(("fail", "softfail")):
        return True
    results = header(message, "Authentication-Results").lower()
    return bool(re.search(r"\bspf=(?:fail|softfail)\b", results))


def ack_refusal(message: Message, envelope: Envelope, identity: Identity) -> str | None:
    """Why this mail must not be auto-acknowledged (REFERENCE.md §2.3), or None.

    Any doubt means no reply: an unanswered reporter costs little, an answered robot can
    cost a loop or backscatter to a forged sender.
    """
    if auto_submitted(message) is not None:
        return "auto-submitted"
    if envelope.mail_from == "":
        return "null reverse-path"
    recipient = ack_recipient(message, envelope)
    if not recipient:
        return "no sender address"
    if identity.owns_address(recipient):
        return "our own address"
    for address in {recipient, *_addresses(message, "From", "Reply-To")}:
        if is_role_address(address):
            return f"role or no-reply address {address}"
    if header(message, "Precedence").lower() in _PRECEDENCE_NO_REPLY:
        return "Precedence: " + header(message, "Precedence").lower()
    if header(message, "List-Id") or header(message, "List-Unsubscribe"):
        return "mailing list"
    if header(message, "In-Reply-To") or header(message, "References"):
        return "a reply (In-Reply-To/References)"
    suppress = header(message, "X-Auto-Response-Suppress").lower()
    if any(token in suppress for token in ("all", "autoreply", "oof")):
        return "X-Auto-Response-Suppress"
    if header(message, "X-Autoreply") or header(message, "X-Autorespond"):
        return "an auto-reply (X-Autoreply)"
    if _topmost_spf_fail(message):
        return "SPF fail"
    if isinstance(message, EmailMessage) and is_machine_report(message):
        # a program sent it and no person reads a receipt; SpamCop's report addresses,
        # for one, forward anything sent to them back to the reporter
        return "a machine report"
    return None
