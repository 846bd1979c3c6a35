"""Status entry allocation against real Postgres: unique under concurrent
allocators, rolling over to a new list when one fills, and every new list
queued for publication."""

from __future__ import annotations

import asyncio

from services.issuance.signing import StatusReserve
from services.issuance.status_entries import LIST_SIZE, allocate
from tests.support.waiting import eventually


async def allocate_in_transaction(db, issuer_id, purpose, count):
    async with db.acquire() as conn, conn.transaction():
        return await allocate(conn, issuer_id, purpose, count)


async def test_concurrent_allocators_never_share_an_entry(db):
    grants = await asyncio.gather(*(
        allocate_in_transaction(db, "uni-1", purpose, 50)
        for purpose in ("revocation", "suspension") for _ in range(8)))
    entries = [(e.list_id, e.index) for grant in grants for e in grant]
    assert len(entries) == len(set(entries)) == 800
    assert all(0 <= index < LIST_SIZE for _, index in entries)
    for grant in grants:
        assert len({e.purpose for e in grant}) == 1
        assert all(e.list_id.startswith(f"uni-1.{grant[0].purpose}.") for e in grant)
    rows = await db.fetch("SELECT purpose, sum(allocated) AS allocated FROM revocation.status_lists GROUP BY purpose")
    assert {r["purpose"]: r["allocated"] for r in rows} == {"revocation": 400, "suspension": 400}


async def test_a_full_list_rolls_over_to_a_new_one(db):
    [first] = await allocate_in_transaction(db, "uni-1", "revocation", 1)
    await db.execute("UPDATE revocation.status_lists SET allocated = size - 5 WHERE list_id = $1", first.list_id)
    entries = await allocate_in_transaction(db, "uni-1", "revocation", 12)
    by_list = {}
    for entry in entries:
        by_list.setdefault(entry.list_id, []).append(entry.index)
    assert len(by_list[first.list_id]) == 5 and len(entries) == 12
    [second] = set(by_list) - {first.list_id}
    assert len(set(by_list[second])) == 7
    counters = dict(await db.fetch("SELECT list_id, allocated FROM revocation.status_lists"))
    assert counters == {first.list_id: LIST_SIZE, second: 7}
    # Other issuers and purposes have lists of their own.
    [other] = await allocate_in_transaction(db, "uni-2", "revocation", 1)
    assert other.list_id not in counters


async def test_new_lists_are_queued_for_publication_and_rolled_back_with_their_transaction(db):
    [entry] = await allocate_in_transaction(db, "uni-1", "suspension", 1)
    assert await db.fetchval("SELECT count(*) FROM revocation.list_changes WHERE list_id = $1", entry.list_id) == 1
    async with db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        [abandoned] = await allocate(conn, "uni-9", "revocation", 1)
        await transaction.rollback()
    assert await db.fetchval("SELECT count(*) FROM revocation.status_lists WHERE list_id = $1", abandoned.list_id) == 0
    assert await db.fetchval("SELECT count(*) FROM revocation.list_changes WHERE list_id = $1",
                             abandoned.list_id) == 0


async def test_the_reserve_hands_out_each_entry_once_and_claims_ahead(db):
    reserve = StatusReserve(db, block=8)
    taken = await asyncio.gather(*(reserve.take("uni-1", 1 + n % 3) for n in range(60)))
    entries = [(e.list_id, e.index) for job in taken for [e] in job]
    assert len(entries) == sum(1 + n % 3 for n in range(60)) == len(set(entries))

    # Half a block left or less starts the next claim in the background, so
    # the next taker finds its entries already there.
    async def claimed_ahead() -> bool | None:
        allocated = await db.fetchval("SELECT sum(allocated) FROM revocation.status_lists")
        return True if allocated >= len(entries) + 8 // 2 else None

    await eventually(claimed_ahead)
    reserve.close()
