"""Mail about an existing case: find the case, keep the mail as correspondence on it.

A customer answering a notice, or a reporter following up, must not open a new case (a
customer's "fixed, see logs: 192.0.2.10" would otherwise become a report against them).
The case is found, most specific first, by

1. the recipient ``abuse+AD-2026-000123@...`` (our notices set it as Reply-To),
2. ``In-Reply-To``/``References`` naming a Message-ID in ``outbound_messages``,
3. a case reference in the subject.

A reference must name a case that exists *and* was opened in the year it says, so a
stray number in a subject does not attach a stranger's mail to a random case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.cases.models import Case, CaseReporter
from abusedesk.formats.mail import attached_message, body_text, header, walk
from abusedesk.intake.mailrules import Envelope, auto_submitted
from abusedesk.intake.models import Correspondence, RawInput
from abusedesk.inventory.models import Account
from abusedesk.notices.models import OutboundMessage
from abusedesk.timeutil import utcnow

BODY_LIMIT = 20_000
_MSGID = re.compile(r"<[^<>\s]{1,250}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class CaseMatch:
    case: Case
    matched_by: str
    outbound: OutboundMessage | None = None


def _ref_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(prefix)}-(\d{{4}})-(\d{{6,9}})(?![0-9])", re.IGNORECASE)


def _case_for_ref(session: Session, year: str, number: str) -> Case | None:
    case = session.get(Case, int(number))
    if case is None or case.opened_at.year != int(year):
        return None
    return case


def recipient_tags(addresses: list[str]) -> list[str]:
    """The ``TAG`` of each ``local+TAG@domain``."""
    tags = []
    for address in addresses:
        local = address.rpartition("@")[0]
        if "+" in local:
            tags.append(local.split("+", 1)[1])
    return tags


def message_ids(value: str) -> list[str]:
    return _MSGID.findall(value)[:50]


def find_case(session: Session, message: EmailMessage, envelope: Envelope, *, prefix: str) -> CaseMatch | None:
    """The case this mail is about, or None when it is a new matter."""
    pattern = _ref_pattern(prefix)
    recipients = list(envelope.rcpt_tos) + [
        addr for _, addr in (parseaddr(v) for v in (header(message, "To"), header(message, "Cc"), header(message, "Delivered-To"))) if addr
    ]
    for tag in recipient_tags(recipients):
        match = pattern.fullmatch(tag)
        if match and (case := _case_for_ref(session, match.group(1), match.group(2))) is not None:
            return CaseMatch(case, "recipient")
    ids = message_ids(header(message, "In-Reply-To")) + message_ids(header(message, "References"))
    if ids:
        outbound = session.execute(
            select(OutboundMessage).where(OutboundMessage.message_id.in_(ids), OutboundMessage.case_id.is_not(None)).order_by(OutboundMessage.id.desc()).limit(1)
        ).scalar_one_or_none()
        if outbound is not None and outbound.case_id is not None:
            case = session.get(Case, outbound.case_id)
            if case is not None:
                return CaseMatch(case, "thread", outbound)
    for match in pattern.finditer(header(message, "Subject")[:998]):
        if (case := _case_for_ref(session, match.group(1), match.group(2))) is not None:
            return CaseMatch(case, "subject")
    return None


_RETURNED_TYPES = frozenset({"text/rfc822-headers", "message/rfc822", "message/rfc822-headers", "message/global", "message/global-headers"})


def bounced_outbound(session: Session, message: EmailMessage) -> CaseMatch | None:
    """The case of one of our messages that this bounce returns (RFC 3464 returned headers).

    A notice that cannot be delivered matters to the analyst (the customer never got it),
    so the bounce is noted on the case, while the mail itself stays ignored.
    """
    ids: list[str] = []
    for part in walk(message, max_depth=4):
        if part.get_content_type() in _RETURNED_TYPES:
            returned = attached_message(part)
            if returned is not None:
                ids.extend(message_ids(header(returned, "Message-ID")))
    if not ids:
        return None
    outbound = session.execute(
        select(OutboundMessage).where(OutboundMessage.message_id.in_(ids[:20]), OutboundMessage.case_id.is_not(None)).limit(1)
    ).scalar_one_or_none()
    if outbound is None or outbound.case_id is None:
        return None
    case = session.get(Case, outbound.case_id)
    return CaseMatch(case, "bounce", outbound) if case is not None else None


def _party(session: Session, case: Case, sender: str | None, outbound: OutboundMessage | None) -> str:
    """``customer`` when the sender is the account's contact or the notice's recipient."""
    if not sender:
        return "unknown"
    if outbound is not None and sender.partition("@")[0] in ("mailer-daemon", "postmaster"):
        return "mta"
    if outbound is not None and outbound.recipient.lower() == sender and outbound.kind != "acknowledgement":
        return "customer"
    account = session.get(Account, case.account_id)
    if account is not None and account.email and account.email.lower() == sender:
        return "customer"
    known = session.execute(
        select(func.count(CaseReporter.id)).where(CaseReporter.case_id == case.id, func.lower(CaseReporter.reporter) == sender)
    ).scalar_one()
    if known or (outbound is not None and outbound.kind == "acknowledgement"):
        return "reporter"
    return "unknown"


def clean_line(value: str, limit: int = 998) -> str:
    """A header value safe to store and show: no control characters, bounded."""
    return _CONTROL.sub(" ", value).strip()[:limit]


def record_correspondence(session: Session, raw: RawInput, message: EmailMessage, match: CaseMatch, *, actor: str) -> Correspondence:
    """Keep the mail on the case (text only; the exact bytes stay in the blob store)."""
    sender = parseaddr(header(message, "From"))[1].lower() or None
    try:
        text = body_text(message)
    except Exception:  # noqa: BLE001 - hostile MIME gives an empty body, the raw mail is kept
        text = ""
    message_id = message_ids(header(message, "Message-ID"))
    row = Correspondence(
        case_id=match.case.id, raw_id=raw.id, direction="inbound",
        party=_party(session, match.case, sender, match.outbound), matched_by=match.matched_by,
        sender=sender[:320] if sender else None, subject=clean_line(header(message, "Subject")),
        message_id=message_id[0] if message_id else None,
        in_reply_to_outbound_id=match.outbound.id if match.outbound else None,
        auto_submitted=auto_submitted(message) is not None, body_text=text[:BODY_LIMIT], received_at=raw.received_at or utcnow(),
    )
    session.add(row)
    session.flush()
    record(
        session, actor=actor, action="case.correspondence", object_type="case", object_id=match.case.id,
        data={"correspondence": row.id, "raw": raw.id, "party": row.party, "matched_by": row.matched_by},
    )
    return row
