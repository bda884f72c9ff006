"""Sending mail: one small interface, a real SMTP implementation and a recording fake."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver or raise; the outbox retries on any exception."""


@dataclass
class SmtpTransport:
    host: str
    port: int
    timeout: float = 30.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            if self.starttls:
                client.starttls()
            if self.username and self.password:
                client.login(self.username, self.password)
            client.send_message(message)


@dataclass
class RecordingTransport:
    """Keeps what it was given; for tests and dry runs."""

    sent: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
