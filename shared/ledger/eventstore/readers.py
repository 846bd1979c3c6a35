"""Reads of ledger events beside `Ledger` (store.py), for the services and
for the ledger's other subsystems (delivery, transparency).

The event store owns `ledger.events` (docs/ownership.md): code that needs an
event asks here instead of naming the table in its own SQL, so the table
layout can change (a partitioned log, another backend) without touching
any reader. Checkpoints and log keys are read through
shared/ledger/transparency/readers.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from shared.db.pool import Connection
from shared.db.sql import load_queries
from shared.ledger.eventstore.chain import GENESIS_HASH
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.eventstore.store import to_recorded

QUERIES = load_queries("shared.ledger.eventstore")
Executor = Connection | asyncpg.Pool


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


async def stream_versions(db: Executor, stream_ids: Sequence[str]) -> dict[str, int]:
    """The current version of each stream; streams not in the ledger are absent."""
    return {r["stream_id"]: r["version"] for r in await db.fetch(QUERIES["stream_versions"], list(stream_ids))}


async def head(db: Executor) -> tuple[int, bytes]:
    """The last position and its chain hash: (0, the genesis hash) when empty."""
    row = await db.fetchrow(QUERIES["head"])
    return (row["position"], bytes(row["hash"])) if row else (0, GENESIS_HASH)


async def head_position(db: Executor) -> int:
    position: int = await db.fetchval(QUERIES["head_position"])
    return position


async def hash_at(db: Executor, position: int) -> bytes | None:
    found: bytes | None = await db.fetchval(QUERIES["hash_at"], position)
    return found


async def read_from(db: Executor, after: int, limit: int) -> list[RecordedEvent]:
    return to_recorded(await db.fetch(QUERIES["read_from"], after, limit))


async def read_range_of_types(db: Executor, after: int, through: int, event_type_pattern: str) -> list[RecordedEvent]:
    """Events in (after, through] whose type matches the LIKE pattern."""
    return to_recorded(await db.fetch(QUERIES["read_range_of_types"], after, through, event_type_pattern))
