"""Share links and the privacy switch, as the learner manages them.

Each decision is a ledger event (shared/events/sharing.py), written in the
same transaction as the wallet's own row, so the wallet's list and the
verification service's projection (which the badge page obeys) cannot
disagree. The event carries only the token's SHA-256; the wallet keeps the
token sealed (so the learner can copy the link again later) and the name the
learner gave the link, which is no audit fact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from shared.db.sql import load_queries
from shared.events.sharing import CredentialVisibilitySet, ShareLinkCreated, ShareLinkRevoked, sharing_stream
from shared.holdings import HeldCredential
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.refusals import Invalid, NotFound
from shared.timeutil import now
from shared.web.sessions import Sealer

QUERIES = load_queries("services.wallet")
MAX_NAME = 80
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class ShareLink:
    share_id: str
    name: str
    url: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def state(self, moment: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= moment:
            return "expired"
        return "active"


def share_url(verify_origin: str, credential_id: str, token: str) -> str:
    return f"{verify_origin}/verify/{credential_id}/s/{token}"


def check_share(name: str, expires_on: dt.date | None, today: dt.date) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise Invalid(f"give the link a name of 1 to {MAX_NAME} characters (who it is for)", code="share-name")
    if expires_on is not None and not today < expires_on <= today + dt.timedelta(days=MAX_DAYS):
        raise Invalid(f"the expiry date must be after today and within {MAX_DAYS} days", code="share-expiry")
    return name


class Sharing:
    def __init__(self, pool: asyncpg.Pool, ledger: Ledger, master_key: str, verify_origin: str) -> None:
        self._pool = pool
        self._ledger = ledger
        self._sealer = Sealer(master_key, "wallet-share-links")
        self._origin = verify_origin

    async def links(self, credential_id: str) -> list[ShareLink]:
        rows = await self._pool.fetch(QUERIES["share_links"], credential_id)
        return [ShareLink(str(r["share_id"]), r["name"],
                          share_url(self._origin, credential_id, self._sealer.open(bytes(r["sealed_token"])) or ""),
                          r["created_at"], r["expires_at"], r["revoked_at"]) for r in rows]

    async def is_private(self, credential_id: str) -> bool:
        return bool(await self._pool.fetchval(QUERIES["is_private"], credential_id))

    async def create(self, credential: HeldCredential, name: str, expires_on: dt.date | None,
                     request_id: str) -> str:
        """A new share link; returns its share id."""
        moment = now()
        name = check_share(name, expires_on, moment.date())
        # The end of the chosen day, UTC: "until 31 March" includes 31 March.
        expires_at = dt.datetime.combine(expires_on, dt.time(23, 59, 59), dt.UTC) if expires_on else None
        token, share_id = secrets.token_urlsafe(32), str(uuid.uuid4())
        event = ShareLinkCreated(credential_id=credential.credential_id, share_id=share_id,
                                 token_hash=hashlib.sha256(token.encode()).hexdigest(), created_at=_iso(moment),
                                 expires_at=_iso(expires_at) if expires_at else None)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(QUERIES["insert_share_link"], uuid.UUID(share_id), credential.credential_id, name,
                               self._sealer.seal(token), moment, expires_at)
            await self._append(conn, credential, event, request_id)
        return share_id

    async def revoke(self, credential: HeldCredential, share_id: str, request_id: str) -> None:
        try:
            share_uuid = uuid.UUID(share_id)
        except ValueError:
            raise NotFound("no such share link") from None
        moment = now()
        async with self._pool.acquire() as conn, conn.transaction():
            revoked = await conn.fetchval(QUERIES["revoke_share_link"], share_uuid, credential.credential_id, moment)
            if revoked is None:
                raise NotFound("no such share link, or it was already revoked")
            await self._append(conn, credential, ShareLinkRevoked(
                credential_id=credential.credential_id, share_id=share_id, revoked_at=_iso(moment)), request_id)

    async def set_private(self, credential: HeldCredential, private: bool, request_id: str) -> None:
        moment = now()
        async with self._pool.acquire() as conn, conn.transaction():
            changed = await conn.fetchval(QUERIES["set_privacy"], credential.credential_id, private, moment)
            if changed:
                await self._append(conn, credential, CredentialVisibilitySet(
                    credential_id=credential.credential_id, private=private, at=_iso(moment)), request_id)

    async def _append(self, conn: asyncpg.Connection, credential: HeldCredential, event: object,
                      request_id: str) -> None:
        metadata = Metadata(actor="holder", tenant=credential.issuer_id, request_id=request_id)
        await self._ledger.append_in(conn, [NewEvent(sharing_stream(credential.credential_id), event)], metadata)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
