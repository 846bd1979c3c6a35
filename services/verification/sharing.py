"""Share links and the privacy switch, as the badge page obeys them.

The wallet records `sharing.*` events (shared/events/sharing.py); this
projection keeps, per credential, whether its learner made it private and
the hashes of its share links with their expiry and revocation. `access`
answers the badge page's question: may this request see the credential?
A public credential is visible to anyone; a private one only through a
share link that is its own, unexpired and not revoked. A share link of a
public credential works too (and is how a learner hands over a link that
keeps working after they make the credential private).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.db.sql import load_queries
from shared.events import CATALOG
from shared.events import sharing as ev
from shared.ledger.delivery.projection import PostgresProjection
from shared.ledger.eventstore.events import RecordedEvent
from shared.timeutil import parse_time

QUERIES = load_queries("services.verification", "sharing.sql")
PROJECTION_NAME = "verification-sharing"
SHARE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{30,60}$")


@dataclass(frozen=True, slots=True)
class Access:
    visible: bool
    via_share: bool = False
    # Why not, for the page to say (never which of these for an unknown token).
    reason: str = ""


async def access(db: asyncpg.Pool | asyncpg.Connection, credential_id: str, share_token: str | None,
                 moment: dt.datetime | None = None) -> Access:
    """May the badge page show this credential to this request?"""
    moment = moment or dt.datetime.now(dt.UTC)
    if share_token is not None:
        if not SHARE_TOKEN.match(share_token):
            return Access(False, reason="this share link is not valid")
        link = await db.fetchrow(QUERIES["share_link"], token_hash(share_token))
        if link is None or link["credential_id"] != credential_id:
            return Access(False, reason="this share link is not valid")
        if link["revoked_at"] is not None:
            return Access(False, reason="the holder revoked this share link")
        if link["expires_at"] is not None and link["expires_at"] <= moment:
            return Access(False, reason="this share link has expired")
        return Access(True, via_share=True)
    if await db.fetchval(QUERIES["is_private"], credential_id):
        return Access(False, reason="the holder shares this credential only through share links")
    return Access(True)


def token_hash(share_token: str) -> str:
    return hashlib.sha256(share_token.encode()).hexdigest()


class SharingProjection(PostgresProjection):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, PROJECTION_NAME)
        self._handlers: dict[str, Callable[[asyncpg.Connection, Any], Awaitable[None]]] = {
            ev.ShareLinkCreated.event_type: self._created,
            ev.ShareLinkRevoked.event_type: self._revoked,
            ev.CredentialVisibilitySet.event_type: self._visibility,
        }

    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        handler = self._handlers.get(event.event_type)
        if handler is not None:
            await handler(conn, CATALOG.decode(event))

    async def _created(self, conn: asyncpg.Connection, e: ev.ShareLinkCreated) -> None:
        await conn.execute(QUERIES["insert_share_link"], e.token_hash, e.share_id, e.credential_id,
                           parse_time(e.created_at), parse_time(e.expires_at) if e.expires_at else None)

    async def _revoked(self, conn: asyncpg.Connection, e: ev.ShareLinkRevoked) -> None:
        await conn.execute(QUERIES["revoke_share_link"], e.share_id, parse_time(e.revoked_at))

    async def _visibility(self, conn: asyncpg.Connection, e: ev.CredentialVisibilitySet) -> None:
        if e.private:
            await conn.execute(QUERIES["make_private"], e.credential_id, parse_time(e.at))
        else:
            await conn.execute(QUERIES["make_public"], e.credential_id)
