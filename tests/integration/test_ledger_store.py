"""The ledger through real Postgres: chain, concurrency, append-only."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import msgspec
import pytest

from shared.ledger.audit import verify_chain
from shared.ledger.chain import GENESIS_HASH, entry_bytes
from shared.ledger.events import MalformedEvent, RecordedEvent, UnknownEventType
from shared.ledger.store import NO_STREAM, AppendConflict, Ledger, NewEvent
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


@pytest.fixture
def ledger(db) -> Ledger:
    return Ledger(db, TEST_CATALOG)


async def test_append_assigns_positions_versions_and_chains_hashes(ledger):
    positions = await ledger.append(
        [NewEvent("cred-1", Noted(text="a")), NewEvent("cred-2", Noted(text="b")),
         NewEvent("cred-1", Noted(text="c", n=3))],
        TEST_METADATA,
    )
    assert positions == [1, 2, 3]
    events = await ledger.read_from(0)
    assert [(e.position, e.stream_id, e.version) for e in events] == [
        (1, "cred-1", 1), (2, "cred-2", 1), (3, "cred-1", 2)
    ]
    prev = GENESIS_HASH
    for e in events:
        assert e.prev_hash == prev
        entry = entry_bytes(e.position, e.stream_id, e.version, e.event_type,
                            bytes(e.payload), bytes(e.metadata))
        assert hashlib.sha256(prev + entry).digest() == e.hash
        prev = e.hash
    # The payload is stored as the exact canonical bytes that were hashed.
    assert bytes(events[2].payload) == b'{"n":3,"text":"c"}'
    meta = msgspec.json.decode(bytes(events[0].metadata))
    assert meta["actor"] == "test-client" and meta["recorded_at"].endswith("Z")
    assert TEST_CATALOG.decode(events[2]) == Noted(text="c", n=3)


async def test_expected_version_conflict_writes_nothing(ledger):
    await ledger.append([NewEvent("s", Noted(text="first"))], TEST_METADATA, {"s": NO_STREAM})
    with pytest.raises(AppendConflict) as caught:
        await ledger.append(
            [NewEvent("other", Noted(text="x")), NewEvent("s", Noted(text="late"))],
            TEST_METADATA, {"s": NO_STREAM},
        )
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert await ledger.head_position() == 1
    await ledger.append([NewEvent("s", Noted(text="second"))], TEST_METADATA, {"s": 1})
    assert [e.version for e in await ledger.read_stream("s")] == [1, 2]


async def test_invalid_stream_id_is_rejected_before_writing(ledger):
    with pytest.raises(ValueError, match="stream id"):
        await ledger.append([NewEvent('bad"id', Noted(text="x"))], TEST_METADATA)
    assert await ledger.head_position() == 0


async def test_concurrent_writers_get_gap_free_positions_in_commit_order(ledger, db):
    # Readers tail by position while 8 writers append: a reader must never see
    # position n+1 committed before n (it would skip n forever).
    stop = asyncio.Event()
    seen_gaps: list[tuple[int, int]] = []

    async def tail() -> None:
        last = 0
        while not stop.is_set() or last < 400:
            for event in await ledger.read_from(last, 1000):
                if event.position != last + 1:
                    seen_gaps.append((last, event.position))
                last = event.position
            await asyncio.sleep(0)

    async def writer(w: int) -> None:
        for i in range(50):
            await ledger.append([NewEvent(f"w{w}", Noted(text=f"{w}-{i}", n=i))], TEST_METADATA)

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(writer(w) for w in range(8)))
    stop.set()
    await asyncio.wait_for(reader, 30)
    assert seen_gaps == []
    rows = await db.fetch("SELECT position, stream_id, version FROM ledger.events ORDER BY position")
    assert [r["position"] for r in rows] == list(range(1, 401))
    for w in range(8):
        assert [r["version"] for r in rows if r["stream_id"] == f"w{w}"] == list(range(1, 51))
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


async def test_ledger_rejects_update_delete_truncate_even_for_owner(ledger, db):
    await ledger.append([NewEvent("s", Noted(text="keep"))], TEST_METADATA)
    for sql in ("UPDATE ledger.events SET event_type = 'x'",
                "DELETE FROM ledger.events",
                "TRUNCATE ledger.events"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(sql)
    assert await ledger.head_position() == 1


async def test_service_role_has_no_update_privilege(ledger, db):
    await ledger.append([NewEvent("s", Noted(text="keep"))], TEST_METADATA)
    async with db.acquire() as conn:
        await conn.execute("SET ROLE credledger_app")
        try:
            assert await conn.fetchval("SELECT count(*) FROM ledger.events") == 1
            for sql in ("UPDATE ledger.events SET event_type = 'x'", "DELETE FROM ledger.events",
                        "TRUNCATE ledger.events"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                    await conn.execute(sql)
        finally:
            await conn.execute("RESET ROLE")


async def test_decoding_unknown_or_malformed_events_is_an_error(ledger):
    base = dict(position=1, stream_id="s", version=1, metadata=msgspec.Raw(b"{}"),
                prev_hash=GENESIS_HASH, hash=GENESIS_HASH)
    with pytest.raises(UnknownEventType):
        TEST_CATALOG.decode(RecordedEvent(event_type="test.Nope", payload=msgspec.Raw(b"{}"), **base))
    with pytest.raises(MalformedEvent):
        TEST_CATALOG.decode(RecordedEvent(event_type="test.Noted", payload=msgspec.Raw(b'{"text":1}'), **base))
    with pytest.raises(MalformedEvent):
        TEST_CATALOG.decode(RecordedEvent(
            event_type="test.Noted", payload=msgspec.Raw(b'{"text":"a","extra":1}'), **base))
