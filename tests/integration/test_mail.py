"""Outgoing mail (shared/mail.py): the file back-end's .eml outbox, and SMTP
through a real SMTP server (aiosmtpd) on a local port, with credentials."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import msgspec
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from credledger.embedded import free_port
from shared.mail import FileMailer, MailFailed, Message, SmtpMailer, mailer
from shared.settings import load_settings

MESSAGE = Message(to="learner@example.org", subject="Your credential", text="Open https://x.test/w",
                  html="<p>Open <a href=\"https://x.test/w\">the wallet</a></p>")


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def parsed(raw: bytes):
    mail = message_from_bytes(raw, policy=default_policy)
    return mail, mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


async def test_the_file_back_end_writes_one_eml_per_message(tmp_path: Path, capsys) -> None:
    outbox = tmp_path / "outbox"
    chosen = mailer(load_settings(environ={}, mail_outbox=str(outbox)))
    assert isinstance(chosen, FileMailer)
    message_id = await chosen.send(MESSAGE)
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1 and "learner" not in files[0].name
    mail, text, html = parsed(files[0].read_bytes())
    assert mail["Message-ID"] == message_id and mail["To"] == MESSAGE.to and mail["Subject"] == MESSAGE.subject
    assert "https://x.test/w" in text and "<a href" in html
    assert str(files[0]) in capsys.readouterr().out


async def test_smtp_delivers_text_and_html_with_credentials(smtp_server) -> None:
    inbox, port = smtp_server
    settings = load_settings(environ={}, mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=port,
                             smtp_tls="none", smtp_username="mailer", smtp_password="s3cret",
                             mail_from="credledger <no-reply@credledger.test>")
    chosen = mailer(settings)
    assert isinstance(chosen, SmtpMailer)
    await chosen.send(MESSAGE)
    assert len(inbox.received) == 1
    sender, recipients, raw = inbox.received[0]
    assert sender == "no-reply@credledger.test" and recipients == [MESSAGE.to]
    mail, text, html = parsed(raw)
    assert mail["Subject"] == MESSAGE.subject and "https://x.test/w" in text and "the wallet" in html


async def test_smtp_with_wrong_credentials_fails_without_losing_the_reason(smtp_server) -> None:
    inbox, port = smtp_server
    settings = load_settings(environ={}, mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=port,
                             smtp_tls="none", smtp_username="mailer", smtp_password="wrong", smtp_timeout_seconds=5)
    # aiosmtpd answers a refused login slowly; either way nothing is delivered and the caller may retry.
    with pytest.raises(MailFailed, match="SMTP"):
        await mailer(settings).send(MESSAGE)
    assert inbox.received == []


async def test_smtp_to_a_closed_port_fails_as_mail_failed() -> None:
    settings = load_settings(environ={}, mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port(),
                             smtp_tls="none", smtp_timeout_seconds=2)
    with pytest.raises(MailFailed):
        await SmtpMailer(msgspec.structs.replace(settings)).send(MESSAGE)
