"""The registry's Postgres tables, a projection of registry events.

Applied exactly once per event (shared/ledger/projection.py): the tables
are always what the ledger says, and can be rebuilt from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from shared.events import CATALOG
from shared.events import registry as ev
from shared.ledger.events import RecordedEvent
from shared.ledger.projection import PostgresProjection

PROJECTION_NAME = "registry.tables"


class RegistryTablesProjection(PostgresProjection):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, PROJECTION_NAME)
        self._handlers: dict[type, Callable[[asyncpg.Connection, Any, RecordedEvent], Awaitable[None]]] = {
            ev.ApiClientCreated: _client_created,
            ev.ApiKeyIssued: _key_issued,
            ev.ApiKeyRevoked: _key_revoked,
            ev.ApiClientRevoked: _client_revoked,
        }

    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        if not event.event_type.startswith("registry."):
            return
        decoded = CATALOG.decode(event)
        handler = self._handlers.get(type(decoded))
        if handler is not None:
            await handler(conn, decoded, event)


async def _client_created(conn: asyncpg.Connection, e: ev.ApiClientCreated, _: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.api_clients (client_id, tenant_id, role, name, rate_limit_class)"
        " VALUES ($1, $2, $3, $4, $5)",
        e.client_id, e.tenant_id, e.role, e.name, e.rate_limit_class,
    )


async def _key_issued(conn: asyncpg.Connection, e: ev.ApiKeyIssued, _: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.api_keys (key_hash, key_id, client_id) VALUES ($1, $2, $3)",
        bytes.fromhex(e.key_hash), e.key_id, e.client_id,
    )


async def _key_revoked(conn: asyncpg.Connection, e: ev.ApiKeyRevoked, _: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.api_keys SET revoked_at = now() WHERE key_id = $1 AND client_id = $2",
        e.key_id, e.client_id,
    )


async def _client_revoked(conn: asyncpg.Connection, e: ev.ApiClientRevoked, _: RecordedEvent) -> None:
    await conn.execute("UPDATE registry.api_clients SET revoked_at = now() WHERE client_id = $1", e.client_id)
