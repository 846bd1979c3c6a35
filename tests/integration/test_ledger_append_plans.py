"""A small group's append (ledger.append_events) reads the streams' versions
and the head through the indexes, never by a scan of the whole log, also on
a connection that planned it while the log was still small (migration
0330): PL/pgSQL keeps a connection's first plan until the table's
statistics change, and the append holds the exclusive lock while it reads,
so a kept scan made every append's cost grow with the log."""

from __future__ import annotations

import asyncpg

from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.ledger.transparency.audit import verify_chain
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted

GROWN_TO = 20_000
BATCH = 500


async def _sequential_scans_of_the_log(conn: asyncpg.Connection) -> int:
    scans = await conn.fetchval("SELECT seq_scan FROM pg_stat_xact_user_tables"
                                " WHERE schemaname = 'ledger' AND relname = 'events'")
    return int(scans or 0)


async def _append_counting_scans(ledger: Ledger, conn: asyncpg.Connection, stream: str) -> int:
    async with conn.transaction():
        [positions] = await ledger.write_group(conn, [ledger.prepare(
            [NewEvent(stream, Noted(text=stream))], TEST_METADATA)])
        assert isinstance(positions, list) and len(positions) == 1
        return await _sequential_scans_of_the_log(conn)


async def _grow(ledger: Ledger, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        for start in range(0, GROWN_TO, BATCH):
            events = [NewEvent(f"grown-{n}", Noted(text="grown", n=n)) for n in range(start, start + BATCH)]
            await ledger.write_committed(conn, [ledger.prepare(events, TEST_METADATA)])


async def test_an_append_planned_on_a_young_log_reads_by_index_once_it_grew(db):
    # Autovacuum analysing the grown table would replace the kept plan and
    # hide the fault this test is about.
    await db.execute("ALTER TABLE ledger.events SET (autovacuum_enabled = false)")
    ledger = Ledger(db, TEST_CATALOG)
    async with db.acquire() as conn:
        for n in range(8):  # a generic plan is made after five runs
            await _append_counting_scans(ledger, conn, f"young-{n}")
        await _grow(ledger, db)
        assert await _append_counting_scans(ledger, conn, "after-growth") == 0
        assert await _append_counting_scans(ledger, conn, "grown-7") == 0
    assert await db.fetchval("SELECT version FROM ledger.events WHERE stream_id = 'grown-7'"
                             " ORDER BY version DESC LIMIT 1") == 2
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok
