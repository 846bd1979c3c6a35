"""The audit's binary COPY reader (copy_rows.py) against the reference: the
same chain and the same leaves as leaf.py computes from each recorded event,
for every kind of row the schema allows, and the same first break when the
rows are not what the schema guarantees."""

from __future__ import annotations

import os

import pytest

from shared.ledger.eventstore.events import Event, EventCatalog, Metadata
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.ledger.transparency import audit
from shared.ledger.transparency.audit import QUERIES, verify_chain
from shared.ledger.transparency.copy_rows import check_rows, copy_chunk, reference_check_rows
from shared.ledger.transparency.leaf import event_leaf_hash
from tests.support.events import TEST_METADATA, Noted


class WithDocument(Event, frozen=True, kw_only=True):
    """Shaped like an issuance event: the signed document is a payload member."""

    event_type = "test.WithDocument"
    document: dict[str, object]
    note: str = ""


CATALOG = EventCatalog(Noted, WithDocument)


@pytest.fixture
async def varied_ledger(db) -> Ledger:
    """Rows of every shape: documents (also one under 2 KB and one that is
    TOASTed and lz4-compressed), non-ASCII text, a payload that only mentions
    "document", escapes, one metadata shared by a batch and one per append."""
    ledger = Ledger(db, CATALOG)
    # Random hex alone may not compress (it has no repeats for LZ to find):
    # the repeated text makes compression certain, the random part keeps the
    # compressed value large enough to be stored out of line.
    big = {"id": "urn:x:big", "proof": os.urandom(3000).hex() + "credential " * 1200, "name": "Zoë ✓"}
    await ledger.append(
        [
            NewEvent("s-doc", WithDocument(document={"id": "urn:x:1", "name": "Ada"})),
            NewEvent("s-doc", WithDocument(document=big, note='says "document": here')),
            NewEvent("s:a/b@c+d", Noted(text='"document": is text here, \\ and "quotes"', n=-1)),
            NewEvent("s-text", Noted(text="ünïcödé ✓ 中文 \u2028", n=2**40)),
        ],
        TEST_METADATA,
    )
    for i in range(150):  # more than one chunk below, with many metadata values
        meta = Metadata(actor=f"actor-{i % 3}", tenant="t", request_id=f"r{i}")
        await ledger.append([NewEvent(f"s{i % 5}", Noted(text=f"e{i}", n=i))], meta)
    await ledger.append([NewEvent(f"batch-{i}", Noted(text="b" * i, n=i)) for i in range(120)], TEST_METADATA)
    return ledger


async def test_big_payload_is_stored_compressed(varied_ledger, db):
    compressed = await db.fetchval(
        "SELECT pg_column_compression(payload) IS NOT NULL FROM ledger.events WHERE position = 2"
    )
    assert compressed


async def test_same_chain_and_leaves_as_the_reference(varied_ledger, db, monkeypatch):
    monkeypatch.setattr(audit, "_CHUNK", 64)  # chunks end mid-append
    head = await varied_ledger.head_position()
    expected = [event_leaf_hash(e) for e in await varied_ledger.read_range(0, head)]
    leaves: list[bytes] = []
    async with db.acquire() as conn:
        result = await verify_chain(conn, leaves=leaves)
        assert (result.ok, result.checked, result.last_position) == (True, head, head)
        assert leaves == expected
        middle: list[bytes] = []
        part = await verify_chain(conn, 40, 200, leaves=middle)
        assert (part.ok, part.checked, part.last_position) == (True, 161, 200)
        assert middle == expected[39:200]


async def test_the_fast_reader_confirms_every_row_itself(varied_ledger, db):
    """No row of an intact ledger falls back to the Record reader."""
    head = await varied_ledger.head_position()
    leaves: list[bytes] = []
    async with db.acquire() as conn:
        chunk = await copy_chunk(conn, QUERIES["audit_copy"], 0, head)
    done = check_rows(chunk, 0, bytes(32), leaves)
    assert (done.complete, done.rows, done.position) == (True, head, head)
    assert done.prev == await varied_ledger.hash_at(head)
    assert leaves == [event_leaf_hash(e) for e in await varied_ledger.read_range(0, head)]


def same_as_reference(chunk: bytes, position: int, prev: bytes) -> tuple[int, bool]:
    """check_rows (with the C accelerator where built) and the Python reader agree."""
    outcomes = []
    for check in (check_rows, reference_check_rows):
        leaves: list[bytes] = []
        done = check(chunk, position, prev, leaves)
        outcomes.append((done.position, done.prev, done.rows, done.complete, leaves))
    assert outcomes[0] == outcomes[1]
    return outcomes[0][2], outcomes[0][3]


async def test_real_chunks_read_alike_by_both_readers(varied_ledger, db):
    head = await varied_ledger.head_position()
    async with db.acquire() as conn:
        for after in (0, 1, 3, 57, 200):
            prev = await varied_ledger.hash_at(after) if after else bytes(32)
            chunk = await copy_chunk(conn, QUERIES["audit_copy"], after, 100)
            assert same_as_reference(chunk, after, prev) == (min(100, head - after), True)
    await owner_edit(
        db,
        "ALTER TABLE ledger.events ALTER COLUMN metadata DROP NOT NULL",
        "UPDATE ledger.events SET metadata = NULL WHERE position = 9",
    )
    async with db.acquire() as conn:
        chunk = await copy_chunk(conn, QUERIES["audit_copy"], 0, 100)
    assert same_as_reference(chunk, 0, bytes(32)) == (8, False)


async def owner_edit(db, *statements: str) -> None:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_delete")
        for sql in statements:
            await conn.execute(sql)
        await conn.execute("ALTER TABLE ledger.events ENABLE TRIGGER events_no_update_delete")


async def test_a_prev_hash_of_another_length_stops_the_fast_reader(varied_ledger, db):
    """A dropped CHECK lets an owner store 33 bytes: the tuple no longer has
    the schema's shape, so the fast reader stops and the reference names it."""
    await owner_edit(
        db,
        "ALTER TABLE ledger.events DROP CONSTRAINT events_prev_hash_check",
        "UPDATE ledger.events SET prev_hash = prev_hash || '\\x00'::bytea WHERE position = 77",
    )
    async with db.acquire() as conn:
        chunk = await copy_chunk(conn, QUERIES["audit_copy"], 0, 1000)
        done = check_rows(chunk, 0, bytes(32), [])
        assert (done.complete, done.position) == (False, 76)
        result = await verify_chain(conn)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 77, 76)
    assert "predecessor link broken" in result.reason


async def test_a_gap_and_an_edit_are_named_as_before(varied_ledger, db):
    await owner_edit(db, 'UPDATE ledger.events SET payload = \'{"n":1,"text":"forged"}\' WHERE position = 3')
    async with db.acquire() as conn:
        result = await verify_chain(conn)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 3, 2)
    assert "hash mismatch" in result.reason
    await owner_edit(db, "DELETE FROM ledger.events WHERE position = 2")
    async with db.acquire() as conn:
        result = await verify_chain(conn)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 2, 1)
    assert result.reason == "gap: position 2 is missing"


async def test_metadata_that_is_not_json_is_a_named_break(varied_ledger, db):
    """Rehashed after the edit, so only the leaf's reading of it can fail."""
    await owner_edit(
        db,
        "UPDATE ledger.events SET metadata = 'not json' WHERE position = 5",
        "UPDATE ledger.events SET hash = sha256(prev_hash || convert_to('{\"metadata\":not json,\"payload\":'"
        " || convert_from(payload, 'UTF8') || ',\"position\":5,\"stream\":\"' || stream_id || '\",\"type\":\"'"
        " || event_type || '\",\"version\":' || version || '}', 'UTF8')) WHERE position = 5",
        "UPDATE ledger.events SET prev_hash = (SELECT hash FROM ledger.events WHERE position = 5) WHERE position = 6",
    )
    async with db.acquire() as conn:
        assert (await verify_chain(conn, 1, 5)).ok  # the chain alone holds up to it
        leaves: list[bytes] = []
        result = await verify_chain(conn, leaves=leaves)
        assert (result.ok, result.first_bad_position, result.checked) == (False, 5, 4)
        assert result.reason.startswith("unreadable entry")
        assert len(leaves) == 4  # the chunk's leaves before the row, once each
        assert await conn.fetchval("SELECT count(*) FROM ledger.events") > 5


async def test_a_truncated_ledger_ends_in_a_gap(varied_ledger, db):
    head = await varied_ledger.head_position()
    async with db.acquire() as conn:
        result = await verify_chain(conn, 1, head + 5)
    assert (result.ok, result.first_bad_position, result.checked) == (False, head + 1, head)
