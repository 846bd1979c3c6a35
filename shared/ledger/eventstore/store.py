"""Appending to and reading from the ledger.

Appends are serialised by an EXCLUSIVE table lock taken at the start of the
transaction and released at commit. That single-writer section is what makes
positions gap-free and commit order equal to position order (the approach of
pyeventsourcing's Postgres recorder). It is short: one read of the head and
the stream versions, one COPY; batching many events into one
append amortises both the lock and the commit's fsync, which is why the bulk
endpoints append in batches, and why `Ledger.append` gathers concurrent
single appends into one transaction (group commit, sequencer.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from shared.db.pool import Connection
from shared.db.sql import load_queries
from shared.ledger.eventstore.chain import GENESIS_HASH, chain_hash, check_identifier, entry_bytes
from shared.ledger.eventstore.events import Event, EventCatalog, Metadata, RecordedEvent, encode_metadata
from shared.ledger.eventstore.sequencer import Fused, GroupCommit, Settle, Stage

QUERIES = load_queries("shared.ledger.eventstore")
_COLUMNS = ("position", "stream_id", "version", "event_type", "payload", "metadata", "prev_hash", "hash")

# Up to this many rows a group is one call that numbers, chains and inserts
# them in Postgres (one round trip, commit included); above it COPY wins: the
# rows are streamed, not bound as parameters, and hashed here, not in PL/pgSQL.
COPY_FROM = 64

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


@dataclass(frozen=True, slots=True)
class PreparedAppend:
    """One caller's events, checked and encoded before any lock is taken."""

    events: Sequence[NewEvent]
    payloads: list[bytes]
    metadata: bytes
    expected_versions: Mapping[str, int]

    def only(self, kept: Sequence[NewEvent]) -> PreparedAppend:
        """The same append restricted to `kept`, a subset of its events (by identity)."""
        payload_of = {id(new): payload for new, payload in zip(self.events, self.payloads, strict=True)}
        if any(id(new) not in payload_of for new in kept):
            raise ValueError("a staged append may only keep events it was given")
        return PreparedAppend(kept, [payload_of[id(new)] for new in kept], self.metadata, self.expected_versions)


class Ledger:
    """Appends and reads. `append` goes through group commit (sequencer.py):
    appends that arrive while others are in flight share one transaction."""

    def __init__(self, pool: asyncpg.Pool, catalog: EventCatalog, **group_options: Any) -> None:
        self.pool = pool
        self.catalog = catalog
        self.group = GroupCommit(self, **group_options)

    async def append(
        self,
        events: Sequence[NewEvent],
        metadata: Metadata,
        expected_versions: Mapping[str, int] | None = None,
        *,
        stage: Stage | None = None,
        settle: Settle | None = None,
    ) -> list[int]:
        """Append events atomically, acknowledged once committed; return their positions.

        `stage(conn)`, if given, runs in the same transaction before the
        append lock is taken (writes that must commit with the events) and
        returns the events to append: all or some of `events`; `settle(conn,
        positions)` runs after the append, before the commit (sequencer.py).
        """
        return await self.group.append(self.prepare(events, metadata, expected_versions), stage, settle)

    def prepare(
        self, events: Sequence[NewEvent], metadata: Metadata, expected_versions: Mapping[str, int] | None = None,
    ) -> PreparedAppend:
        """Check and encode, once: a bad event fails its own caller here, never a group."""
        for new in events:
            check_identifier("stream id", new.stream_id)
            check_identifier("event type", new.event.event_type)
        return PreparedAppend(events, [self.catalog.encode(e.event) for e in events],
                              encode_metadata(metadata.stamped()), expected_versions or {})

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
        [result] = await self.write_group(conn, [self.prepare(events, metadata, expected_versions)])
        if isinstance(result, AppendConflict):
            raise result
        return result

    async def write_committed(
        self, conn: Connection, appends: Sequence[PreparedAppend],
    ) -> list[list[int] | AppendConflict]:
        """`write_group` as a transaction of its own, on a connection outside
        any: a small group is one statement, which commits as it returns."""
        if self.fits_one_call(appends):
            return await _call_group(conn, appends)
        async with conn.transaction():
            return await self.write_group(conn, appends)

    @staticmethod
    def fits_one_call(appends: Sequence[PreparedAppend]) -> bool:
        """Whether the group is appended by one ledger.append_events call."""
        return sum(len(a.events) for a in appends) <= COPY_FROM

    async def write_fused(
        self, conn: Connection, fused: Fused, stages: list[Any], appends: Sequence[PreparedAppend],
    ) -> list[list[int] | AppendConflict]:
        """A group that fits one call, through its stages' `fused` function
        (sequencer.py): their writes and the append, one statement outside any
        transaction that commits as it returns, or raises having written nothing."""
        return append_results(await fused(conn, stages, append_arguments(appends)), appends)

    async def write_group(
        self, conn: Connection, appends: Sequence[PreparedAppend],
    ) -> list[list[int] | AppendConflict]:
        """Lock, read the head and stream versions once, write every append that
        does not conflict; per append its positions or its conflict. Callers
        are checked in order, so of two expecting one version the first wins.
        A small group is one call that numbers and chains its events in
        Postgres (migration 0240); a large one is numbered here and COPYed."""
        if self.fits_one_call(appends):
            return await _call_group(conn, appends)
        streams = list(dict.fromkeys(
            [e.stream_id for a in appends for e in a.events] + [s for a in appends for s in a.expected_versions]))
        head = await conn.fetchrow(QUERIES["lock_and_read_head"], streams)
        assert head is not None  # the function returns one row, always
        position, prev = head["head_position"], head["head_hash"] or GENESIS_HASH
        versions = dict(zip(head["stream_ids"] or (), head["versions"] or (), strict=True))
        results: list[list[int] | AppendConflict] = []
        records = []
        for append in appends:
            conflict = _conflict(append.expected_versions, versions)
            if conflict is not None:
                results.append(conflict)
                continue
            positions = []
            for new, payload in zip(append.events, append.payloads, strict=True):
                position += 1
                version = versions[new.stream_id] = versions.get(new.stream_id, 0) + 1
                event_type = new.event.event_type
                digest = chain_hash(prev, entry_bytes(position, new.stream_id, version, event_type, payload,
                                                      append.metadata))
                records.append((position, new.stream_id, version, event_type, payload, append.metadata, prev, digest))
                positions.append(position)
                prev = digest
            results.append(positions)
        if records:
            # The chain trigger checks the rows and queues the relay's wake-up
            # hint, delivered at commit (migration 0340).
            await conn.copy_records_to_table("events", schema_name="ledger", columns=_COLUMNS, records=records)
        return results

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


async def _call_group(conn: Connection, appends: Sequence[PreparedAppend]) -> list[list[int] | AppendConflict]:
    """A small group through ledger.append_events: one round trip."""
    row = await conn.fetchrow(QUERIES["append_events"], *append_arguments(appends))
    assert row is not None  # the function returns one row, always
    return append_results(row, appends)


def append_arguments(appends: Sequence[PreparedAppend]) -> tuple[list[Any], ...]:
    """ledger.append_events's eight arrays for these appends (migration 0240)."""
    callers, streams, types, payloads, metadata = [], [], [], [], []
    expected_callers, expected_streams, expected_versions = [], [], []
    for index, append in enumerate(appends):
        for new, payload in zip(append.events, append.payloads, strict=True):
            callers.append(index)
            streams.append(new.stream_id)
            types.append(new.event.event_type)
            payloads.append(payload)
            metadata.append(append.metadata)
        for stream_id, version in append.expected_versions.items():
            expected_callers.append(index)
            expected_streams.append(stream_id)
            expected_versions.append(version)
    return callers, streams, types, payloads, metadata, expected_callers, expected_streams, expected_versions


def append_results(row: asyncpg.Record, appends: Sequence[PreparedAppend]) -> list[list[int] | AppendConflict]:
    """Per append its positions or its conflict, from ledger.append_events's row."""
    conflicts = {caller: AppendConflict(stream_id, want, actual) for caller, stream_id, want, actual in zip(
        row["conflict_callers"], row["conflict_streams"], row["conflict_expected"], row["conflict_actual"],
        strict=True)}
    positions = iter(row["positions"])
    results: list[list[int] | AppendConflict] = []
    for index, append in enumerate(appends):
        mine = [next(positions) for _ in append.events]
        results.append(conflicts.get(index, mine))
    return results


def _conflict(expected: Mapping[str, int], versions: Mapping[str, int]) -> AppendConflict | None:
    for stream_id, want in expected.items():
        actual = versions.get(stream_id, 0)
        if actual != want:
            return AppendConflict(stream_id, want, actual)
    return None


def to_recorded(rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            position=r[0], stream_id=r[1], version=r[2], event_type=r[3],
            payload=msgspec.Raw(r[4]), metadata=msgspec.Raw(r[5]), prev_hash=r[6], hash=r[7],
        )
        for r in rows
    ]
