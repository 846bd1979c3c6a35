"""The log tree takes rows another reader of the ledger read (the relay's
batches, in the relay process): the same tree as from its own reads, however
the reads overlap, and a ledger at fault still halts it."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from shared.ledger.eventstore import readers
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.ledger.transparency.checkpoints import Checkpointer, LogCannotExtend, LogSigner, LogTree
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


@pytest.fixture
async def ledger_with_100(db) -> Ledger:
    ledger = Ledger(db, TEST_CATALOG)
    await ledger.append([NewEvent(f"s{i % 7}", Noted(text=f"e{i}", n=i)) for i in range(100)], TEST_METADATA)
    return ledger


async def own_reads_root(db) -> bytes:
    tree = LogTree()
    async with db.acquire() as conn:
        await tree.catch_up(conn)
    assert tree.size == 100
    return tree.tree.root()


async def test_offered_rows_that_continue_the_tree_are_taken_once(ledger_with_100, db):
    tree = LogTree()
    tree.take_continuing(await readers.read_from(db, 10, 20))  # 11..30: does not continue an empty tree
    assert tree.size == 0
    tree.take_continuing(await readers.read_from(db, 0, 40))
    assert tree.size == 40
    tree.take_continuing(await readers.read_from(db, 20, 40))  # 21..60 overlaps: 41..60 taken
    assert tree.size == 60
    async with db.acquire() as conn:
        await tree.catch_up(conn)
    assert tree.size == 100
    assert tree.tree.root() == await own_reads_root(db)


async def test_rows_offered_while_the_trees_own_read_is_in_flight(ledger_with_100, db):
    offered = await readers.read_from(db, 0, 50)
    tree = LogTree()
    async with db.acquire() as conn:
        own_read = asyncio.create_task(tree.catch_up(conn))
        await asyncio.sleep(0)  # the read of 1..100 is sent; its answer is not taken yet
        tree.take_continuing(offered)
        assert tree.size == 50
        await own_read  # 1..50 of its read are the rows already taken
    assert tree.size == 100
    assert tree.tree.root() == await own_reads_root(db)


async def test_a_gap_in_the_ledger_still_halts_the_tree(ledger_with_100, db):
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_delete")
        await conn.execute("DELETE FROM ledger.events WHERE position = 60")
        await conn.execute("ALTER TABLE ledger.events ENABLE TRIGGER events_no_update_delete")
    tree = LogTree()
    tree.take_continuing(await readers.read_from(db, 0, 100))  # stops before the gap
    assert tree.size == 59
    async with db.acquire() as conn:
        with pytest.raises(LogCannotExtend, match="cannot take position 61"):
            await tree.catch_up(conn)


async def test_a_checkpointer_takes_offers_only_while_it_leads(ledger_with_100, db, database_url):
    signer = LogSigner("test.example/log", base64.b64encode(os.urandom(32)).decode())
    checkpointer = Checkpointer(database_url, signer, every_events=1, poll_interval=0.05)
    rows = await readers.read_from(db, 0, 100)
    checkpointer.offer(rows)  # not leading yet: nothing hashed
    assert checkpointer._log.size == 0  # noqa: SLF001 - the tree the offers feed
    stop = asyncio.Event()
    running = asyncio.create_task(checkpointer.run(stop))
    try:
        for _ in range(200):
            if await db.fetchval("SELECT coalesce(max(tree_size), 0) FROM ledger.checkpoints") == 100:
                break
            await asyncio.sleep(0.05)
        checkpointer.offer(rows)  # leading, already at 100: nothing added twice
        assert checkpointer._log.size == 100  # noqa: SLF001
        assert checkpointer._log.tree.root() == await own_reads_root(db)  # noqa: SLF001
        # Rows the relay reads next feed the tree, and the checkpoint of them is signed.
        await ledger_with_100.append([NewEvent("s1", Noted(text=f"f{i}", n=i)) for i in range(50)], TEST_METADATA)
        checkpointer.offer(await readers.read_from(db, 100, 2000))
        assert checkpointer._log.size == 150  # noqa: SLF001
        for _ in range(200):
            if await db.fetchval("SELECT coalesce(max(tree_size), 0) FROM ledger.checkpoints") == 150:
                break
            await asyncio.sleep(0.05)
        root = await db.fetchval("SELECT root_hash FROM ledger.checkpoints WHERE tree_size = 150")
        fresh = LogTree()
        async with db.acquire() as conn:
            await fresh.catch_up(conn)
        assert bytes(root) == fresh.tree.root(150)
    finally:
        stop.set()
        await running
