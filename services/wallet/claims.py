"""Claim emails: when a credential is issued, its learner is told, once.

A projection of the ledger queues one row per `CredentialIssued` (keyed by
the credential id, in the transaction that advances its position, so a
replay or a second replica queues nothing twice). A background sender
works through the queue: it asks issuance where to write (the learner's
address is sealed there, and only issuance opens it), mails a one-time
link into the wallet that lands on the credential, and marks the row sent.
A failure is retried with backoff; the row stays until it is sent.
Nothing in a log names the learner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from services.wallet.issuance_client import IssuanceClient
from shared.db.sql import load_queries
from shared.events.credentials import CredentialIssued
from shared.ledger.delivery.projection import PostgresProjection
from shared.ledger.eventstore.events import RecordedEvent
from shared.lifecycle import sleep_or_stop
from shared.mail import Mailer, MailFailed, Message
from shared.refusals import Refusal

QUERIES = load_queries("services.wallet")
PROJECTION_NAME = "wallet-claims"
BATCH = 20
MAX_BACKOFF_SECONDS = 3600.0
log = logging.getLogger("credledger.wallet.claims")

# (credential id, address) -> the one-time sign-in URL that lands on it.
LinkMaker = Callable[[str, str], Awaitable[str]]
# (url, title, issuer name) -> (text, html) of the email.
Composer = Callable[[str, str, str], tuple[str, str]]


class ClaimProjection(PostgresProjection):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, PROJECTION_NAME)

    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        if event.event_type == CredentialIssued.event_type:
            # Only the id is needed; the event's document is not decoded here.
            credential_id = event.stream_id.removeprefix("credential:")
            await conn.execute(QUERIES["queue_claim"], f"urn:uuid:{credential_id}")


class ClaimSender:
    def __init__(self, pool: asyncpg.Pool, issuance: IssuanceClient, mailer: Mailer, link: LinkMaker,
                 compose: Composer, poll_seconds: float = 1.0) -> None:
        self._pool = pool
        self._issuance = issuance
        self._mailer = mailer
        self._link = link
        self._compose = compose
        self._poll = poll_seconds

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = await self.send_due()
            if sent < BATCH:
                await sleep_or_stop(stop, self._poll)

    async def send_due(self) -> int:
        """Send (or retry) up to a batch of due claim emails; returns how many rows were handled."""
        async with self._pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(QUERIES["due_claims"], BATCH)
            for row in due:
                await self._send_one(conn, row["credential_id"], row["attempts"])
        return len(due)

    async def _send_one(self, conn: asyncpg.Connection, credential_id: str, attempts: int) -> None:
        try:
            details = await self._issuance.claim(credential_id)
            if details.email is None:
                # Identified by a national id: there is no one to write to.
                await conn.execute(QUERIES["claim_sent"], credential_id, "no email address")
                return
            url = await self._link(credential_id, details.email)
            text, html = self._compose(url, details.title, details.issuer_name)
            await self._mailer.send(Message(to=details.email, subject=f"Your credential: {details.title}",
                                            text=text, html=html))
        except (Refusal, MailFailed) as exc:
            backoff = min(2.0 ** attempts * 5, MAX_BACKOFF_SECONDS)
            await conn.execute(QUERIES["claim_failed"], credential_id, str(exc)[:300], backoff)
            log.warning("claim email not sent; will retry",
                        extra={"credential_id": credential_id, "error": type(exc).__name__, "retry_in": backoff})
            return
        await conn.execute(QUERIES["claim_sent"], credential_id, "")
        log.info("claim email sent", extra={"credential_id": credential_id})
