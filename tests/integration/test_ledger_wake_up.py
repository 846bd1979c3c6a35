"""The relay's wake-up hint comes from the chain trigger (migration 0340):
every append that commits rows sends `ledger_appended` with its last
position, by ledger.append_events and by COPY alike; an append that writes
nothing or rolls back sends none. And the SQL entry bytes the trigger hashes
are the bytes of chain.py."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.ledger.eventstore.chain import entry_bytes
from shared.ledger.eventstore.store import NO_STREAM, AppendConflict, Ledger, NewEvent
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


@pytest.fixture
async def wake_ups(database_url):
    conn = await asyncpg.connect(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener("ledger_appended", lambda *args: heard.put_nowait(args[3]))
    yield heard
    await conn.close()


async def next_wake_up(heard: asyncio.Queue[str]) -> str:
    return await asyncio.wait_for(heard.get(), timeout=5)


async def test_each_committed_append_wakes_the_relay_with_its_last_position(db, wake_ups):
    ledger = Ledger(db, TEST_CATALOG)
    [single] = await ledger.append([NewEvent("wake-1", Noted(text="one"))], TEST_METADATA)
    assert await next_wake_up(wake_ups) == str(single)
    batch = await ledger.append([NewEvent(f"wake-b{i}", Noted(text="b", n=i)) for i in range(100)], TEST_METADATA)
    assert await next_wake_up(wake_ups) == str(batch[-1])  # the COPY path, with no statement of its own for it
    async with db.acquire() as conn, conn.transaction():
        inside = await ledger.append_in(conn, [NewEvent("wake-2", Noted(text="in"))], TEST_METADATA)
    assert await next_wake_up(wake_ups) == str(inside[0])


async def test_an_append_that_writes_nothing_or_rolls_back_sends_no_wake_up(db, wake_ups):
    ledger = Ledger(db, TEST_CATALOG)
    await ledger.append([NewEvent("quiet", Noted(text="first"))], TEST_METADATA)
    assert await next_wake_up(wake_ups)
    with pytest.raises(AppendConflict):
        await ledger.append([NewEvent("quiet", Noted(text="again"))], TEST_METADATA, {"quiet": NO_STREAM})
    with pytest.raises(RuntimeError):
        async with db.acquire() as conn, conn.transaction():
            await ledger.append_in(conn, [NewEvent("rolled-back", Noted(text="no"))], TEST_METADATA)
            raise RuntimeError("roll back")
    [last] = await ledger.append([NewEvent("loud", Noted(text="yes"))], TEST_METADATA)
    assert await next_wake_up(wake_ups) == str(last)  # nothing queued in between
    assert wake_ups.empty()


@pytest.mark.parametrize("stream, event_type, payload, metadata", [
    ("urn:uuid:0f8c2c9e-1", "test.Noted", b'{"n":1,"text":"a"}', b'{"actor":"x","tenant":"y"}'),
    ("a:b.c_d/e@f+g-h", "issuance.CredentialIssued", b"{}", b"{}"),
    ("stra\u00dfe-\u2603", "t\u00ebst", '{"text":"\u00e9\u20ac\U0001f600"}'.encode(), b'{"actor":"\\u0000"}'),
], ids=["credential", "every-identifier-character", "non-ascii"])
async def test_the_sql_entry_bytes_are_those_of_chain_py(db, stream, event_type, payload, metadata):
    found = await db.fetchval("SELECT ledger.entry_bytes($1, $2, $3, $4, $5, $6)",
                              123_456_789_012, stream, 7, event_type, payload, metadata)
    assert found == entry_bytes(123_456_789_012, stream, 7, event_type, payload, metadata)
