"""A projection batch that changes nothing but the progress row commits
without waiting for its fsync (projection.py), as one statement when no
event of it is acted on; any batch with an event the projection acts on
keeps the synchronous commit its writes need."""

from __future__ import annotations

from shared.ledger.delivery.projection import QUERIES, PostgresProjection
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


class ActsOnOdd(PostgresProjection):
    """Acts on events whose `n` is odd; notes the commit mode each event was applied under."""

    def __init__(self, pool) -> None:
        super().__init__(pool, "test.acts-on-odd")
        self.seen: list[tuple[int, str]] = []

    def affects(self, event: RecordedEvent) -> bool:
        return TEST_CATALOG.decode(event).n % 2 == 1

    async def apply_one(self, conn, event: RecordedEvent) -> None:
        self.seen.append((event.position, await conn.fetchval("SELECT current_setting('synchronous_commit')")))


async def test_progress_only_batches_skip_the_flush_wait_and_acting_batches_keep_it(db):
    ledger = Ledger(db, TEST_CATALOG)
    await ledger.append([NewEvent(f"s{i}", Noted(text=str(i), n=n)) for i, n in enumerate([0, 2, 1, 0, 4])],
                        TEST_METADATA)
    events = await ledger.read_from(0)
    projection = ActsOnOdd(db)
    await projection.apply(events[:2])  # acts on none: only the progress moves, in one statement
    assert projection.seen == []
    assert (await projection.load_applied()).position == 2
    await projection.apply(events[:1])  # behind the progress: left as it is
    assert (await projection.load_applied()).position == 2
    await projection.apply(events[:3])  # the first two again (skipped), then one acted on
    await projection.apply(events[:4])  # the one acted on again (skipped), then one that is not
    assert projection.seen == [(3, "on"), (4, "off")]
    await projection.apply(events[3:])
    assert projection.seen == [(3, "on"), (4, "off")]
    applied = await projection.load_applied()
    assert (applied.position, applied.hash) == (5, events[4].hash)
    assert await db.fetchval("SELECT current_setting('synchronous_commit')") == "on"  # SET LOCAL: never leaks


async def test_the_one_statement_progress_write_commits_without_flush_and_only_its_own_transaction(db):
    await Ledger(db, TEST_CATALOG).append([NewEvent("s", Noted(text="x", n=0))], TEST_METADATA)
    async with db.acquire() as conn:
        async with conn.transaction():  # what the statement alone runs in, made visible
            await conn.execute(QUERIES["advance_projection_progress"], "test.one-statement", 1, None)
            assert await conn.fetchval("SELECT current_setting('synchronous_commit')") == "off"
        assert await conn.fetchval("SELECT current_setting('synchronous_commit')") == "on"
    assert await db.fetchval("SELECT position FROM ledger.projection_progress"
                             " WHERE projection = 'test.one-statement'") == 1
