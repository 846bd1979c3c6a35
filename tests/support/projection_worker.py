"""A durable projection run as its own process, for the fault-injection tests.

It records every applied position in `test_applied` (no unique key on
purpose): a double-applied event shows up as a duplicate row. It runs as the
services' role, which may not create tables: the test creates it first as
the owner (`create_applied_table`).
"""

from __future__ import annotations

import asyncio
import signal

import asyncpg

from shared.db.migrate import APP_ROLE
from shared.ledger.delivery.projection import PostgresProjection, ProjectionRunner
from shared.ledger.eventstore.events import EventCatalog, RecordedEvent
from shared.ledger.eventstore.store import Ledger
from shared.logs import configure_logging
from shared.settings import load_settings


async def create_applied_table(owner: asyncpg.Pool) -> None:
    await owner.execute("CREATE TABLE test_applied (position bigint NOT NULL, stream_id text NOT NULL)")
    await owner.execute(f"GRANT SELECT, INSERT ON test_applied TO {APP_ROLE}")


class AppliedProjection(PostgresProjection):
    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        await conn.execute("INSERT INTO test_applied VALUES ($1, $2)", event.position, event.stream_id)


async def main() -> None:
    settings = load_settings()
    configure_logging("projection-worker", "INFO", "json")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    runner = ProjectionRunner(
        AppliedProjection(pool, "test.applied"), Ledger(pool, EventCatalog()),
        settings.kafka_bootstrap_servers, settings.topic("ledger"), group_id="test.applied",
        partitions=settings.kafka_partitions, idle_check_interval=0.5, broker_retry_interval=1.0,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await runner.run(stop)
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
