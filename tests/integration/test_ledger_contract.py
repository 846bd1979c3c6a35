"""The ledger's behaviour, written once and run against every way of writing.

`LedgerContract` holds the tests (pyeventsourcing's recorder test cases do
the same): positions, versions and the hash chain; optimistic conflicts
writing nothing; identifiers checked before writing; gap-free positions in
commit order under concurrent writers; reads by range, stream and position;
an audit of the result. Each subclass supplies a `Writer`, one way of
appending through the store's public API, against real Postgres:

- `TestOwnTransaction`: `Ledger.append` (each call its own transaction);
- `TestCallerTransaction`: `Ledger.append_in` inside the caller's
  transaction, the path the bulk endpoints and the registry take (the batch
  is one COPY);
- `TestAppRole`: `Ledger.append` as `credledger_app`, the services' role
  (no UPDATE privilege: the append lock goes through a SECURITY DEFINER
  function, and the chain trigger holds it to the chain).

A new write path (group commit, another backend) is one more subclass with
its own `writer` fixture. The embedded Postgres is not a subclass here: the
suite runs on one server per run (tests/conftest.py picks it), so the same
tests already run on the embedded one wherever that is the server.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

import asyncpg
import msgspec
import pytest

from shared.ledger.eventstore.chain import GENESIS_HASH, entry_bytes
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, AppendConflict, Ledger, NewEvent
from shared.ledger.transparency.audit import verify_chain
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


class Writer(Protocol):
    ledger: Ledger

    async def append(
        self, events: Sequence[NewEvent], metadata: Metadata, expected: Mapping[str, int] | None = None,
    ) -> list[int]: ...


class OwnTransaction:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def append(
        self, events: Sequence[NewEvent], metadata: Metadata, expected: Mapping[str, int] | None = None,
    ) -> list[int]:
        return await self.ledger.append(events, metadata, expected)


class CallerTransaction(OwnTransaction):
    async def append(
        self, events: Sequence[NewEvent], metadata: Metadata, expected: Mapping[str, int] | None = None,
    ) -> list[int]:
        async with self.ledger.pool.acquire() as conn, conn.transaction():
            return await self.ledger.append_in(conn, events, metadata, expected)


class LedgerContract:
    """Not collected itself (no Test prefix); every subclass runs all of it."""

    @pytest.fixture
    def writer(self, db: asyncpg.Pool) -> Writer:
        raise NotImplementedError

    async def test_append_assigns_positions_versions_and_chains_hashes(self, writer: Writer) -> None:
        positions = await writer.append(
            [NewEvent("cred-1", Noted(text="a")), NewEvent("cred-2", Noted(text="b")),
             NewEvent("cred-1", Noted(text="c", n=3))],
            TEST_METADATA,
        )
        assert positions == [1, 2, 3]
        events = await writer.ledger.read_from(0)
        assert [(e.position, e.stream_id, e.version) for e in events] == [
            (1, "cred-1", 1), (2, "cred-2", 1), (3, "cred-1", 2)
        ]
        prev = GENESIS_HASH
        for e in events:
            assert e.prev_hash == prev
            entry = entry_bytes(e.position, e.stream_id, e.version, e.event_type, bytes(e.payload), bytes(e.metadata))
            assert hashlib.sha256(prev + entry).digest() == e.hash
            prev = e.hash
        # The payload is stored as the exact canonical bytes that were hashed.
        assert bytes(events[2].payload) == b'{"n":3,"text":"c"}'
        meta = msgspec.json.decode(bytes(events[0].metadata))
        assert meta["actor"] == "test-client" and meta["recorded_at"].endswith("Z")
        assert TEST_CATALOG.decode(events[2]) == Noted(text="c", n=3)

    async def test_a_batch_continues_the_chain_of_the_one_before(self, writer: Writer) -> None:
        first = await writer.append([NewEvent(f"s{i}", Noted(text=str(i))) for i in range(500)], TEST_METADATA)
        second = await writer.append([NewEvent(f"s{i}", Noted(text=str(i))) for i in range(3)], TEST_METADATA)
        assert first == list(range(1, 501)) and second == [501, 502, 503]
        assert [e.version for e in await writer.ledger.read_stream("s1")] == [1, 2]
        events = await writer.ledger.read_range(499, 502)
        assert [e.position for e in events] == [500, 501, 502]
        assert events[1].prev_hash == events[0].hash == await writer.ledger.hash_at(500)

    async def test_expected_version_conflict_writes_nothing(self, writer: Writer) -> None:
        await writer.append([NewEvent("s", Noted(text="first"))], TEST_METADATA, {"s": NO_STREAM})
        with pytest.raises(AppendConflict) as caught:
            await writer.append(
                [NewEvent("other", Noted(text="x")), NewEvent("s", Noted(text="late"))],
                TEST_METADATA, {"s": NO_STREAM},
            )
        assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == ("s", 0, 1)
        assert await writer.ledger.head_position() == 1
        assert await writer.ledger.read_stream("other") == []
        await writer.append([NewEvent("s", Noted(text="second"))], TEST_METADATA, {"s": 1})
        assert [e.version for e in await writer.ledger.read_stream("s")] == [1, 2]

    async def test_invalid_stream_id_is_rejected_before_writing(self, writer: Writer) -> None:
        with pytest.raises(ValueError, match="stream id"):
            await writer.append([NewEvent("ok", Noted(text="x")), NewEvent('bad"id', Noted(text="x"))], TEST_METADATA)
        assert await writer.ledger.head_position() == 0

    async def test_an_empty_append_writes_nothing(self, writer: Writer) -> None:
        assert await writer.append([], TEST_METADATA) == []
        assert await writer.ledger.head_position() == 0
        assert await writer.ledger.hash_at(0) == GENESIS_HASH
        assert await writer.ledger.hash_at(1) is None

    async def test_concurrent_writers_get_gap_free_positions_in_commit_order(self, writer: Writer) -> None:
        # Readers tail by position while 8 writers append: a reader must never
        # see position n+1 committed before n (it would skip n forever).
        stop = asyncio.Event()
        seen_gaps: list[tuple[int, int]] = []

        async def tail() -> None:
            last = 0
            while not stop.is_set() or last < 200:
                for event in await writer.ledger.read_from(last, 1000):
                    if event.position != last + 1:
                        seen_gaps.append((last, event.position))
                    last = event.position
                await asyncio.sleep(0)

        async def write(w: int) -> None:
            for i in range(25):
                await writer.append([NewEvent(f"w{w}", Noted(text=f"{w}-{i}", n=i))], TEST_METADATA)

        reader = asyncio.create_task(tail())
        await asyncio.gather(*(write(w) for w in range(8)))
        stop.set()
        await asyncio.wait_for(reader, 30)
        assert seen_gaps == []
        events = await writer.ledger.read_from(0, 1000)
        assert [e.position for e in events] == list(range(1, 201))
        for w in range(8):
            assert [e.version for e in events if e.stream_id == f"w{w}"] == list(range(1, 26))

    async def test_what_was_appended_passes_the_audit(self, writer: Writer) -> None:
        for i in range(5):
            await writer.append([NewEvent(f"a{j}", Noted(text=f"{i}", n=j)) for j in range(20)], TEST_METADATA)
        async with writer.ledger.pool.acquire() as conn:
            result = await verify_chain(conn)
        assert result.ok and result.checked == 100 and result.last_position == 100


class TestOwnTransaction(LedgerContract):
    @pytest.fixture
    def writer(self, db: asyncpg.Pool) -> Writer:
        return OwnTransaction(Ledger(db, TEST_CATALOG))


class TestCallerTransaction(LedgerContract):
    @pytest.fixture
    def writer(self, db: asyncpg.Pool) -> Writer:
        return CallerTransaction(Ledger(db, TEST_CATALOG))


@pytest.fixture
async def app_role_pool(app_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(app_database_url, min_size=1, max_size=10)
    yield pool
    await pool.close()


class TestAppRole(LedgerContract):
    @pytest.fixture
    def writer(self, app_role_pool: asyncpg.Pool) -> Writer:
        return OwnTransaction(Ledger(app_role_pool, TEST_CATALOG))
