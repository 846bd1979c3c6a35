"""Idempotency keys: a retried request gets the original response.

The key is claimed in the same transaction as the work it guards, so the
claim, the ledger events and the stored response commit together. A
concurrent request with the same key waits on the claim and then replays the
response; a request whose work failed leaves no claim, so its retry runs
afresh. Keys are per client; their rules and purge are shared/idempotency.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from services.revocation.status_changes import QUERIES
from shared.idempotency import KeyReused

Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    replayed: bool


async def run_once(
    pool: asyncpg.Pool, client_id: str, key: str | None, request_fingerprint: bytes, work: Work
) -> Response:
    """Run `work` in a transaction, at most once per (client, key)."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            if key is None or await conn.fetchval(QUERIES["claim_idempotency_key"], client_id, key,
                                                  request_fingerprint):
                status, body = await work(conn)
                if key is not None:
                    await conn.execute(QUERIES["save_idempotent_response"], client_id, key, status, body)
                return Response(status, body, replayed=False)
        return await _replay(conn, client_id, key, request_fingerprint)


class _Claimed(Exception):
    """Another request with this key was recorded first."""


Claim = Callable[[asyncpg.Connection], Awaitable[None]]
Save = Callable[[asyncpg.Connection, int, bytes], Awaitable[None]]
GroupedWork = Callable[[Claim, Save], Awaitable[tuple[int, bytes]]]


async def run_once_grouped(
    pool: asyncpg.Pool, client_id: str, key: str | None, request_fingerprint: bytes, work: GroupedWork
) -> Response:
    """`run_once` for work that appends through the ledger's group commit:
    `work` gets a claim to stage before its append and a save to run once
    the positions are known, both in the group's transaction."""

    async def claim(conn: asyncpg.Connection) -> None:
        if key is not None and not await conn.fetchval(QUERIES["claim_idempotency_key"], client_id, key,
                                                       request_fingerprint):
            raise _Claimed()

    async def save(conn: asyncpg.Connection, status: int, body: bytes) -> None:
        if key is not None:
            await conn.execute(QUERIES["save_idempotent_response"], client_id, key, status, body)

    # The work decides before it claims: a retry of a change already made
    # would be refused (already revoked), so a stored response goes first.
    if key is not None and (stored := await _stored(pool, client_id, key, request_fingerprint)):
        return stored
    try:
        status, body = await work(claim, save)
    except Exception as error:
        if key is not None and (stored := await _stored(pool, client_id, key, request_fingerprint)):
            return stored  # a request with this key committed while this one decided
        if isinstance(error, _Claimed):
            raise AssertionError("an idempotency key was claimed without a response") from error
        raise
    return Response(status, body, replayed=False)


async def _stored(pool: asyncpg.Pool, client_id: str, key: str, request_fingerprint: bytes) -> Response | None:
    async with pool.acquire() as conn:
        if await conn.fetchval(QUERIES["idempotent_response"], client_id, key) is None:
            return None
        return await _replay(conn, client_id, key, request_fingerprint)


async def _replay(conn: asyncpg.Connection, client_id: str, key: str, request_fingerprint: bytes) -> Response:
    row = await conn.fetchrow(QUERIES["idempotent_response"], client_id, key)
    if row is None or row["response"] is None:
        raise AssertionError("an idempotency key was claimed without a response")
    if bytes(row["fingerprint"]) != request_fingerprint:
        raise KeyReused(key)
    return Response(row["status"], bytes(row["response"]), replayed=True)

