"""Idempotency keys: one rule for every service that honours them.

A client may send `Idempotency-Key` with a write; a retry with the same key
and the same request gets the original answer, and the same key with another
request is refused. Each service keeps its keys in its own table (the key
is claimed or saved in the transaction of the work it guards) and runs
`purge_loop` to delete keys older than `RETENTION`, so the table holds a
day of keys, not every key ever sent.

The rules, the same everywhere: a key is 1 to 255 visible ASCII characters
(no spaces, which proxies and logs mangle); a request's fingerprint is a
SHA-256 over length-prefixed parts, so no two different requests (method,
path, canonical body) can run together into the same bytes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
from functools import partial

import asyncpg

from shared.background import LoopBody
from shared.lifecycle import sleep_or_stop
from shared.refusals import Invalid, Malformed

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
RETENTION = dt.timedelta(hours=24)
PURGE_INTERVAL = 600.0
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class KeyReused(Invalid):
    """The key came before with a different request."""

    default_code = "idempotency-key-reused"
    default_title = "The Idempotency-Key was used for another request"

    def __init__(self, key: str) -> None:
        super().__init__(f"{HEADER} {key!r} came with a different request before; use a new key for a new request")


def checked_key(key: str | None) -> str | None:
    """The key as sent (None when none was), refused unless it follows the rule."""
    if key is not None and not _KEY.fullmatch(key):
        raise Malformed(f"{HEADER} must be 1 to 255 visible ASCII characters")
    return key


def fingerprint(*parts: bytes | str) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.digest()


async def purge_expired(pool: asyncpg.Pool, purge_sql: str) -> str:
    """Delete the keys older than RETENTION (`purge_sql` takes it as $1)."""
    return await pool.execute(purge_sql, RETENTION)


def purge_loop(pool: asyncpg.Pool, purge_sql: str) -> LoopBody:
    """The body of a service's purge loop (run it with shared.service.background_context)."""
    return partial(_purge_loop, pool, purge_sql)


async def _purge_loop(pool: asyncpg.Pool, purge_sql: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            log.info("expired idempotency keys purged", extra={"result": await purge_expired(pool, purge_sql)})
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("idempotency key purge failed", extra={"error": repr(exc)})
        await sleep_or_stop(stop, PURGE_INTERVAL)
