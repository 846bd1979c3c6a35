"""Reads of the transparency log's tables (checkpoints, log keys) for the
services: the verification service serves them without naming the tables
(docs/ownership.md)."""

from __future__ import annotations

import asyncpg

from shared.db.pool import Connection
from shared.db.sql import load_queries

QUERIES = load_queries("shared.ledger.transparency")
Executor = Connection | asyncpg.Pool


async def latest_checkpoint(db: Executor) -> str | None:
    note: str | None = await db.fetchval(QUERIES["latest_checkpoint"])
    return note


async def last_checkpoint_size(db: Executor) -> int:
    """The size of the largest signed tree (0 before the first checkpoint)."""
    size: int = await db.fetchval(QUERIES["last_checkpoint_size"])
    return size


async def checkpoint_of_size(db: Executor, tree_size: int) -> str | None:
    note: str | None = await db.fetchval(QUERIES["checkpoint_of_size"], tree_size)
    return note


async def covering_checkpoint(db: Executor, position: int, tree_size: int) -> tuple[int, str] | None:
    """The largest checkpoint including `position` within the first `tree_size` entries."""
    row = await db.fetchrow(QUERIES["covering_checkpoint"], position, tree_size)
    return (row["tree_size"], row["signed_note"]) if row else None


async def log_keys(db: Executor) -> list[str]:
    """The checkpoint signing keys the log has used, oldest first."""
    return [r["vkey"] for r in await db.fetch(QUERIES["log_keys"])]
