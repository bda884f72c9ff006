"""Builders of test mails (bytes as an MTA would deliver them)."""

from __future__ import annotations

import json
import uuid


def complaint(
    ip: str = "192.0.2.10", *, sender: str = "victim@reporter.example", subject: str = "Spam from your network",
    to: str = "abuse@abusedesk.test", headers: dict[str, str] | None = None, message_id: str | None = None,
    body: str | None = None,
) -> bytes:
    """A human's free-text spam complaint about ``ip``."""
    lines = [
        f"From: Victim <{sender}>",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@reporter.example>'}",
        "Date: Tue, 03 Nov 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    text = body or f"Hello, your host {ip} sent us spam on 2026-11-01 10:00 UTC.\nPlease stop it.\n"
    return ("\r\n".join(lines) + "\r\n\r\n" + text.replace("\n", "\r\n")).encode()


def arf(ip: str = "192.0.2.10", *, auto_submitted: str | None = "auto-generated", sender: str = "fbl@isp.example") -> bytes:
    """An ARF feedback-loop report (RFC 5965), as FBLs send it: Auto-Submitted and all."""
    boundary = "b-" + uuid.uuid4().hex
    auto = f"Auto-Submitted: {auto_submitted}\r\n" if auto_submitted else ""
    return (
        f"From: FBL <{sender}>\r\nTo: abuse@abusedesk.test\r\nSubject: FW: complaint\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@isp.example>\r\nDate: Tue, 03 Nov 2026 10:00:00 +0000\r\n{auto}"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\nSource-IP: {ip}\r\nArrival-Date: Sun, 01 Nov 2026 10:00:00 +0000\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: spammer@shop.example\r\nTo: user@isp.example\r\nSubject: buy now\r\nReceived: from [{ip}] by mx.isp.example\r\n\r\nspam\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def dsn(original_message_id: str = "<x@abusedesk.test>") -> bytes:
    boundary = "d-" + uuid.uuid4().hex
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\nTo: abuse@abusedesk.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.customer.example>\r\nAuto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nCould not deliver to 192.0.2.10.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; x@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original_message_id}\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def own_json(ip: str = "192.0.2.10") -> bytes:
    return json.dumps({"category": "email.spam", "source": ip, "occurred_at": "2026-11-01T10:00:00Z"}).encode()
