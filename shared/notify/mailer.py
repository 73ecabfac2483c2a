"""Sending one e-mail: Azure Communication Services Email in Azure, SMTP locally and in tests.

Both take the same :class:`Email` (plain text + HTML, a deterministic ``Message-ID``) and raise
:class:`SendFailed` (English, no secrets) when the message was not accepted.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

from shared.settings import Settings

log = logging.getLogger("loonbrug.notify")

SMTP_TIMEOUT = 15.0  # seconds per SMTP conversation
ACS_TIMEOUT = 60.0  # seconds to wait for ACS to accept a message


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str  # "<...@...>", deterministic per event
    headers: dict[str, str] = field(default_factory=dict)


class SendFailed(Exception):
    """The message was not accepted by the mail service."""


class Mailer(Protocol):
    def send(self, email: Email) -> None: ...


class SmtpMailer:
    """Plain SMTP (no TLS, no login): the local SMTP sandbox or a relay on the machine."""

    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host = host
        self.port = port
        self.sender = sender

    def message(self, email: Email) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(email.to)
        msg["Subject"] = email.subject
        msg["Message-ID"] = email.message_id
        msg["Date"] = format_datetime(datetime.now(UTC))
        for name, value in email.headers.items():
            msg[name] = value
        msg.set_content(email.text)
        msg.add_alternative(email.html, subtype="html")
        return msg

    def send(self, email: Email) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT) as smtp:
                smtp.send_message(self.message(email))
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP {self.host}:{self.port}: {type(exc).__name__}") from None


class AcsMailer:
    """Azure Communication Services Email with the app's managed identity."""

    def __init__(self, endpoint: str, sender: str, client_id: str | None) -> None:
        self.endpoint = endpoint
        self.sender = sender
        self._client_id = client_id
        self._client: Any = None

    def _email_client(self) -> Any:
        if self._client is None:
            from azure.communication.email import EmailClient
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=self._client_id)
            self._client = EmailClient(self.endpoint, credential)
        return self._client

    def send(self, email: Email) -> None:
        message = {
            "senderAddress": self.sender,
            "recipients": {"to": [{"address": address} for address in email.to]},
            "content": {"subject": email.subject, "plainText": email.text, "html": email.html},
            "headers": {**acs_headers(email.message_id), **email.headers},
        }
        try:
            poller = self._email_client().begin_send(message)
            result = poller.result(timeout=ACS_TIMEOUT)
        except Exception as exc:  # azure-core raises many kinds; none may carry secrets out
            raise SendFailed(f"ACS email: {type(exc).__name__}") from None
        status = str((result or {}).get("status", "")).lower()
        if status and status not in ("succeeded", "running", "notstarted"):
            raise SendFailed(f"ACS email status {status}")


def acs_headers(message_id: str) -> dict[str, str]:
    """ASSUMPTION [I]: ACS Email takes the internet Message-ID as a custom header named
    ``Message-ID`` (documented for its "reserved custom headers"; the exact spelling ACS keeps
    is not verified here). Without it ACS assigns its own id, and only our claim table keeps a
    notification from being sent twice."""
    return {"Message-ID": message_id}


def mailer_from_settings(settings: Settings) -> Mailer | None:
    """ACS when ACS_EMAIL_ENDPOINT is set, else SMTP when SMTP_HOST is set, else none."""
    if settings.acs_email_endpoint:
        return AcsMailer(
            settings.acs_email_endpoint,
            settings.notify_sender,
            settings.storage.managed_identity_client_id,
        )
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.notify_sender)
    return None
