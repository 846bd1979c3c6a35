"""Reading the ledger's state in tests, to show that a refusal changed nothing."""

from __future__ import annotations

import asyncpg


async def ledger_head(db: asyncpg.Pool) -> int:
    return await db.fetchval("SELECT coalesce(max(position), 0) FROM ledger.events")
