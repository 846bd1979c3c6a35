"""What the services read from the ledger, beside `Ledger` (store.py).

The ledger package owns the `ledger` schema (docs/ownership.md): a service
that needs an event, a checkpoint or a log key asks here instead of naming
`ledger.*` tables in its own SQL, so the table layout can change (a
partitioned log, another backend) without touching any service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from shared.db.sql import load_queries
from shared.ledger.events import RecordedEvent
from shared.ledger.store import to_recorded

QUERIES = load_queries("shared.ledger")
Executor = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True, slots=True)
class FirstEvent:
    """Version 1 of a stream: the event that opened it."""

    stream_id: str
    position: int
    event_type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class StreamEventType:
    stream_id: str
    version: int
    event_type: str


async def first_events(db: Executor, stream_ids: Sequence[str]) -> list[FirstEvent]:
    rows = await db.fetch(QUERIES["first_events"], list(stream_ids))
    return [FirstEvent(r["stream_id"], r["position"], r["event_type"], bytes(r["payload"])) for r in rows]


async def stream_event_types(db: Executor, stream_ids: Sequence[str]) -> list[StreamEventType]:
    """Every event type of each stream, by stream then version."""
    rows = await db.fetch(QUERIES["stream_event_types"], list(stream_ids))
    return [StreamEventType(r["stream_id"], r["version"], r["event_type"]) for r in rows]


async def payloads_of_types(db: Executor, stream_ids: Sequence[str], event_types: Sequence[str]) -> list[bytes]:
    rows = await db.fetch(QUERIES["payloads_of_types"], list(stream_ids), list(event_types))
    return [bytes(r["payload"]) for r in rows]


async def entry_at(db: Executor, position: int) -> RecordedEvent | None:
    rows = await db.fetch(QUERIES["read_range"], position - 1, position)
    return to_recorded(rows)[0] if rows else None


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


async def stream_versions(db: Executor, stream_ids: Sequence[str]) -> dict[str, int]:
    """The current version of each stream; streams not in the ledger are absent."""
    return {r["stream_id"]: r["version"] for r in await db.fetch(QUERIES["stream_versions"], list(stream_ids))}
