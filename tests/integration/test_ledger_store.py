"""The ledger through real Postgres: append-only for every role, and decoding.

Appending, reading, conflicts and concurrency are the contract every write
path runs: test_ledger_contract.py."""

from __future__ import annotations

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
