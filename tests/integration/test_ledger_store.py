"""The ledger through real Postgres: append-only for every role, and decoding.

Appending, reading, conflicts and concurrency are the contract every write
path runs: test_ledger_contract.py."""

from __future__ import annotations

import os

import asyncpg
import msgspec
import pytest

from shared.ledger.eventstore.chain import GENESIS_HASH
from shared.ledger.eventstore.events import MalformedEvent, RecordedEvent, UnknownEventType
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


@pytest.fixture
def ledger(db) -> Ledger:
    return Ledger(db, TEST_CATALOG)


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


async def test_a_payload_that_compresses_to_a_few_kilobytes_stays_in_its_row(ledger, db):
    # Like a CredentialIssued document: ~4 KB that lz4 makes a little over
    # 2 KB, which the default target would still have moved out of line.
    text = os.urandom(1150).hex() + "issuer achievement credential " * 60
    positions = await ledger.append([NewEvent(f"s{i}", Noted(text=text, n=i)) for i in range(100)], TEST_METADATA)
    sizes = await db.fetch("SELECT pg_column_size(payload) AS stored, length(payload) AS raw,"
                           " pg_column_compression(payload) AS method FROM ledger.events")
    assert all(2100 < row["stored"] < row["raw"] and row["method"] is not None for row in sizes)
    toast = await db.fetchval("SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'ledger.events'::regclass")
    assert toast == 0
    read = await ledger.read_range(0, positions[-1])
    assert [ledger.catalog.decode(e).text for e in read] == [text] * 100
