"""Kill -9 the relay and a consumer, or restart the broker, mid-run of 50,000
appends: Kafka still gets every position and the projection applies each
exactly once. Real processes, real Postgres, real broker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from credledger.embedded import EmbeddedKafka, free_port
from shared.ledger.eventstore.events import RECORDED_EVENT_DECODER
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support import processes
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted
from tests.support.projection_worker import create_applied_table

pytestmark = pytest.mark.slow

TOTAL = 50_000
BATCH = 50


async def append_all(ledger: Ledger, on_progress) -> None:
    for start in range(0, TOTAL, BATCH):
        await ledger.append(
            [NewEvent(f"stream-{(start + i) % 97}", Noted(text="x", n=start + i)) for i in range(BATCH)],
            TEST_METADATA,
        )
        await on_progress(start + BATCH)
        await asyncio.sleep(0.002)


async def wait_until_done(db, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        relay = await db.fetchval("SELECT position FROM ledger.relay_progress WHERE relay = 'ledger'")
        projection = await db.fetchval(
            "SELECT position FROM ledger.projection_progress WHERE projection = 'test.applied'"
        )
        if relay == TOTAL and projection == TOTAL:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not done: relay={relay} projection={projection}")


async def positions_on_topic(bootstrap: str, topic: str) -> set[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not tps:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        seen: set[int] = set()
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                seen.update(RECORDED_EVENT_DECODER.decode(r.value).position for r in records)
        return seen
    finally:
        await consumer.stop()


async def assert_exactly_once(db, settings, bootstrap: str) -> None:
    await wait_until_done(db)
    assert await positions_on_topic(bootstrap, settings.topic("ledger")) == set(range(1, TOTAL + 1))
    counts = await db.fetchrow("SELECT count(*) AS n, count(DISTINCT position) AS d, max(position) AS m FROM test_applied")
    assert dict(counts) == {"n": TOTAL, "d": TOTAL, "m": TOTAL}


@pytest.fixture(autouse=True)
async def applied_table(db) -> None:
    await create_applied_table(db)


def start_relay_and_worker(settings, logs: Path):
    relay = processes.start(["-m", "credledger", "relay"], settings, logs / "relay.log")
    worker = processes.start(["-m", "tests.support.projection_worker"], settings, logs / "worker.log")
    return relay, worker


async def test_kill_9_relay_and_consumer_mid_run(db, settings, tmp_path):
    settings = msgspec.structs.replace(settings, relay_port=free_port())
    relay, worker = start_relay_and_worker(settings, tmp_path)
    killed = False

    async def chaos(done: int) -> None:
        nonlocal relay, worker, killed
        if not killed and done >= TOTAL // 3:
            killed = True
            processes.kill_hard(relay)
            processes.kill_hard(worker)
            await asyncio.sleep(1.0)  # appends continue while both are down
            relay, worker = start_relay_and_worker(settings, tmp_path)

    try:
        await append_all(Ledger(db, TEST_CATALOG), chaos)
        await assert_exactly_once(db, settings, settings.kafka_bootstrap_servers)
    finally:
        processes.stop(relay)
        processes.stop(worker)


async def test_broker_restart_loses_memory_mid_run(db, settings, tmp_path):
    broker = EmbeddedKafka(free_port())
    broker.start()
    settings = msgspec.structs.replace(
        settings, kafka_bootstrap_servers=broker.bootstrap, relay_port=free_port()
    )
    relay, worker = start_relay_and_worker(settings, tmp_path)
    restarted = False

    async def chaos(done: int) -> None:
        nonlocal restarted
        if not restarted and done >= TOTAL // 3:
            restarted = True
            broker.stop()
            await asyncio.sleep(1.0)
            broker.start()

    try:
        await append_all(Ledger(db, TEST_CATALOG), chaos)
        await assert_exactly_once(db, settings, broker.bootstrap)
    finally:
        processes.stop(relay)
        processes.stop(worker)
        broker.stop()
