"""asyncpg pools with the codecs every service expects."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.db.sql import load_queries

QUERIES = load_queries("shared.db")

# What `pool.acquire()` yields and what `asyncpg.connect` returns: the stubs
# keep the two apart; the code uses them alike.
Connection = asyncpg.Connection | PoolConnectionProxy


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    # statement_cache_size stays on: every hot query is a named block reused
    # many times, and pgbouncer in transaction mode is not part of the design.
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=60, reset=_session_kept
    )


async def _session_kept(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool: nothing on the server.

    asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL` on every release, a round trip (and four
    statements for Postgres) per checkout, which single-credential issuance
    paid several times a request. Pool connections never carry session
    state here: whatever takes a session-level advisory lock or LISTENs
    (relay, checkpointer, migrator) opens a connection of its own, and
    settings are only ever `SET LOCAL`. A transaction left open is still
    rolled back and listener callbacks dropped (asyncpg does that before
    calling this).
    """


async def database_reachable(pool: asyncpg.Pool, timeout: float = 2.0) -> bool:
    try:
        async with pool.acquire(timeout=timeout) as conn:
            await conn.fetchval(QUERIES["ping"], timeout=timeout)
        return True
    except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
        return False
