"""A projection batch that changes nothing but the progress row commits
without waiting for its fsync (projection.py); any batch with an event the
projection acts on keeps the synchronous commit its writes need."""

from __future__ import annotations

from shared.ledger.delivery.projection import PostgresProjection
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
    await ledger.append([NewEvent(f"s{i}", Noted(text=str(i), n=n)) for i, n in enumerate([0, 2, 4, 0, 1])],
                        TEST_METADATA)
    events = await ledger.read_from(0)
    projection = ActsOnOdd(db)
    await projection.apply(events[:3])
    await projection.apply(events[:5])  # the first three again: skipped
    assert projection.seen == [(1, "off"), (2, "off"), (3, "off"), (4, "on"), (5, "on")]
    assert (await projection.load_applied()).position == 5
    assert await db.fetchval("SELECT current_setting('synchronous_commit')") == "on"  # SET LOCAL: never leaks
