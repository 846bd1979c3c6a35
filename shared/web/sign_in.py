"""Emailed one-time sign-in links (no HTTP here).

A link carries 32 random bytes; only their SHA-256 is stored, with the
sealed address and an expiry (15 minutes by default). Consuming it is one
UPDATE that finds it unused, so a link opens exactly one session even when
clicked twice at once. Requests are limited per address and per client
(keyed hashes as buckets), and the caller answers the same whether or not
the address may sign in: whether a link was sent is never told.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.refusals import Invalid, RateLimited
from shared.web.sessions import QUERIES, Sealer, hashed, new_secret

WINDOW_SECONDS = 15 * 60


class TooManySignInRequests(RateLimited):
    default_code = "too-many-sign-in-requests"
    default_title = "Too many sign-in requests"


class SignInLinkInvalid(Invalid):
    default_code = "sign-in-link-invalid"
    default_title = "This sign-in link cannot be used"


@dataclass(frozen=True, slots=True)
class Limits:
    per_address: int = 5
    per_client: int = 20
    window_seconds: int = WINDOW_SECONDS


@dataclass(frozen=True, slots=True)
class SignedIn:
    subject: str
    next_path: str


class SignInLinks:
    def __init__(self, pool: asyncpg.Pool, realm: str, sealer: Sealer, max_age_seconds: int,
                 limits: Limits = Limits()) -> None:
        self._pool = pool
        self._realm = realm
        self._sealer = sealer
        self._max_age = max_age_seconds
        self._limits = limits

    async def check_rate(self, address: str, client: str) -> None:
        """Counts this request; refuses once either bucket is over its limit."""
        buckets = ((self._sealer.bucket("address", address), self._limits.per_address),
                   (self._sealer.bucket("client", client), self._limits.per_client))
        async with self._pool.acquire() as conn, conn.transaction():
            for bucket, limit in buckets:
                used = await conn.fetchval(QUERIES["count_attempts"], self._realm, bucket,
                                           float(self._limits.window_seconds))
                if used >= limit:
                    raise TooManySignInRequests(
                        f"too many sign-in links were asked for; wait {self._limits.window_seconds // 60}"
                        " minutes and try again")
            for bucket, _ in buckets:
                await conn.execute(QUERIES["record_attempt"], self._realm, bucket)

    async def issue(self, subject: str, next_path: str = "", max_age_seconds: int | None = None) -> str:
        """A new link token for the subject; the caller mails it."""
        token = new_secret()
        await self._pool.execute(QUERIES["create_link"], self._realm, hashed(token), self._sealer.seal(subject),
                                 next_path, float(max_age_seconds or self._max_age))
        return token

    async def usable(self, token: str) -> bool:
        return await self._pool.fetchval(QUERIES["peek_link"], self._realm, hashed(token)) is not None

    async def consume(self, token: str) -> SignedIn:
        row = await self._pool.fetchrow(QUERIES["consume_link"], self._realm, hashed(token))
        subject = self._sealer.open(bytes(row["sealed_subject"])) if row is not None else None
        if row is None or subject is None:
            raise SignInLinkInvalid("the link has expired or was already used; ask for a new one")
        return SignedIn(subject, row["next_path"])

    async def purge(self) -> None:
        for query in ("purge_links", "purge_attempts", "purge_sessions"):
            await self._pool.execute(QUERIES[query])
