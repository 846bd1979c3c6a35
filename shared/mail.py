"""Outgoing mail: SMTP for real deployments, `.eml` files on the embedded default.

Sign-in and claim links go by email. `Mailer.send` takes a `Message` (text
and HTML alternative) and either hands it to an SMTP server (aiosmtplib,
STARTTLS or implicit TLS, with credentials from the settings) or writes it
as one `.eml` file under the outbox directory and logs its path, the way
framework file back-ends do, so a developer (and the browser tests) can open
the link without a mail server. The file name is random: it never carries
the recipient. Logs never name the recipient either (learner identity).
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

import aiosmtplib

from shared.settings import Settings

log = logging.getLogger("credledger.mail")


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    subject: str
    text: str
    html: str


class MailFailed(Exception):
    """The message could not be handed over; the caller keeps it to retry."""


class Mailer(Protocol):
    async def send(self, message: Message) -> str:
        """Hand the message over; returns its Message-ID."""
        ...


def build(message: Message, sender: str) -> EmailMessage:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">") or "credledger.local")
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


class FileMailer:
    """Writes each message as `<outbox>/<time>-<random>.eml` (atomically)."""

    def __init__(self, outbox: Path, sender: str) -> None:
        self.outbox = outbox
        self._sender = sender

    async def send(self, message: Message) -> str:
        mail = build(message, self._sender)
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.urandom(6).hex()}.eml"
        partial = self.outbox / f".{name}.part"
        partial.write_bytes(mail.as_bytes())
        os.chmod(partial, 0o600)
        partial.replace(self.outbox / name)
        path = self.outbox / name
        log.info("mail written to the outbox", extra={"path": str(path)})
        print(f"credledger mail: {path}", flush=True)
        return str(mail["Message-ID"])


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: Message) -> str:
        settings = self._settings
        mail = build(message, settings.mail_from)
        try:
            await aiosmtplib.send(
                mail, hostname=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_username or None, password=settings.smtp_password or None,
                use_tls=settings.smtp_tls == "tls", start_tls=settings.smtp_tls == "starttls",
                # "none" is for a relay on localhost (refused in production).
                tls_context=ssl.create_default_context() if settings.smtp_tls != "none" else None,
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("mail not sent", extra={"error": type(exc).__name__, "smtp_host": settings.smtp_host})
            raise MailFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}") from exc
        log.info("mail sent", extra={"smtp_host": settings.smtp_host, "message_id": mail["Message-ID"]})
        return str(mail["Message-ID"])


def mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "smtp":
        return SmtpMailer(settings)
    return FileMailer(Path(settings.mail_outbox), settings.mail_from)
