"""Appending to and reading from the ledger.

Appends are serialised by an EXCLUSIVE table lock taken at the start of the
transaction and released at commit. That single-writer section is what makes
positions gap-free and commit order equal to position order (the approach of
pyeventsourcing's Postgres recorder). It is short: one head read, one version
read, one COPY; batching many events into one append amortises both the lock
and the commit's fsync, which is why the bulk endpoints append in batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from shared.db.pool import Connection
from shared.db.sql import load_queries
from shared.ledger.eventstore.chain import GENESIS_HASH, chain_hash, check_identifier, entry_bytes
from shared.ledger.eventstore.events import Event, EventCatalog, Metadata, RecordedEvent, encode_metadata

QUERIES = load_queries("shared.ledger.eventstore")
_COLUMNS = ("position", "stream_id", "version", "event_type", "payload", "metadata", "prev_hash", "hash")

# Expected version of a stream that must not exist yet.
NO_STREAM = 0


class AppendConflict(Exception):
    """A stream was not at the version the writer expected; nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class NewEvent:
    stream_id: str
    event: Event


class Ledger:
    def __init__(self, pool: asyncpg.Pool, catalog: EventCatalog) -> None:
        self.pool = pool
        self.catalog = catalog

    async def append(
        self,
        events: Sequence[NewEvent],
        metadata: Metadata,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[int]:
        """Append events atomically in their own transaction; return their positions."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await self.append_in(conn, events, metadata, expected_versions)

    async def append_in(
        self,
        conn: Connection,
        events: Sequence[NewEvent],
        metadata: Metadata,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[int]:
        """Append inside the caller's transaction, so projections written in the
        same transaction commit (or roll back) together with the events.

        `expected_versions` maps a stream to the version it must be at before
        this append (NO_STREAM for a new stream); streams not named accept any.
        """
        if not events:
            return []
        payloads = [self.catalog.encode(e.event) for e in events]
        for new in events:
            check_identifier("stream id", new.stream_id)
        meta = encode_metadata(metadata.stamped())
        # Everything that can be computed without the lock is computed above.
        await conn.execute(QUERIES["lock_for_append"])
        head = await conn.fetchrow(QUERIES["head"])
        position, prev = (head["position"], head["hash"]) if head else (0, GENESIS_HASH)
        versions = await self._current_versions(conn, events, expected_versions or {})
        records = []
        for new, payload in zip(events, payloads, strict=True):
            position += 1
            version = versions[new.stream_id] = versions[new.stream_id] + 1
            event_type = new.event.event_type
            digest = chain_hash(prev, entry_bytes(position, new.stream_id, version, event_type, payload, meta))
            records.append((position, new.stream_id, version, event_type, payload, meta, prev, digest))
            prev = digest
        await conn.copy_records_to_table("events", schema_name="ledger", columns=_COLUMNS, records=records)
        # Delivered at commit: a wake-up hint for the relay, never a guarantee.
        await conn.execute(QUERIES["notify_appended"], str(position))
        return [r[0] for r in records]

    async def _current_versions(
        self, conn: Connection, events: Sequence[NewEvent], expected: Mapping[str, int]
    ) -> dict[str, int]:
        streams = list(dict.fromkeys(e.stream_id for e in events))
        rows = await conn.fetch(QUERIES["stream_versions"], streams)
        versions = dict.fromkeys(streams, 0) | {r["stream_id"]: r["version"] for r in rows}
        for stream_id, want in expected.items():
            actual = versions.get(stream_id, 0)
            if actual != want:
                raise AppendConflict(stream_id, want, actual)
        return versions

    async def read_from(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        async with self.pool.acquire() as conn:
            return to_recorded(await conn.fetch(QUERIES["read_from"], after, limit))

    async def read_range(self, after: int, through: int) -> list[RecordedEvent]:
        async with self.pool.acquire() as conn:
            return to_recorded(await conn.fetch(QUERIES["read_range"], after, through))

    async def hash_at(self, position: int) -> bytes | None:
        """The chain hash of `position` (the genesis hash for 0); None if the
        ledger has no such position."""
        if position == 0:
            return GENESIS_HASH
        found: bytes | None = await self.pool.fetchval(QUERIES["hash_at"], position)
        return found

    async def read_stream(self, stream_id: str) -> list[RecordedEvent]:
        async with self.pool.acquire() as conn:
            return to_recorded(await conn.fetch(QUERIES["read_stream"], stream_id))

    async def head_position(self) -> int:
        head: int = await self.pool.fetchval(QUERIES["head_position"])
        return head


def to_recorded(rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            position=r[0], stream_id=r[1], version=r[2], event_type=r[3],
            payload=msgspec.Raw(r[4]), metadata=msgspec.Raw(r[5]), prev_hash=r[6], hash=r[7],
        )
        for r in rows
    ]
