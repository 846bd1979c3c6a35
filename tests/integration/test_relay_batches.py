"""The relay publishes in record batches it builds per partition: every
event still lands on the partition the producer's partitioner picks for its
stream, in position order, exactly once per publication."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from credledger.embedded import EmbeddedKafka, free_port
from shared.bus import ensure_topics
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted
from tests.support.waiting import running_relay


async def published(settings, count: int) -> list:
    consumer = AIOKafkaConsumer(settings.topic("ledger"), bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records, deadline = [], time.monotonic() + 30
    try:
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_relay_batches_keep_each_stream_on_its_partition_in_order(settings, db):
    ledger = Ledger(db, TEST_CATALOG)
    await asyncio.gather(*(
        ledger.append([NewEvent(f"stream-{i % 23}", Noted(text=f"{i}-{j}", n=j)) for j in range(5)], TEST_METADATA)
        for i in range(120)))
    async with running_relay(settings):
        records = await published(settings, 600)
    assert sorted(msgspec.json.decode(r.value)["position"] for r in records) == list(range(1, 601))
    partitions = sorted({r.partition for r in records} | set(range(settings.kafka_partitions)))
    last: dict[int, int] = {}
    for record in records:
        assert record.partition == DefaultPartitioner()(record.key, partitions, partitions)
        position = msgspec.json.decode(record.value)["position"]
        assert position > last.get(record.partition, 0)  # in position order within a partition
        last[record.partition] = position


async def relay_position(db) -> int:
    return await db.fetchval("SELECT coalesce(max(position), 0) FROM ledger.relay_progress")


async def until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_short_batch_is_published_once_and_the_position_kept_between_wake_ups(settings, db):
    ledger = Ledger(db, TEST_CATALOG)
    async with running_relay(settings, poll_interval=30):  # only the appends' hints wake it
        for n in range(5):
            await ledger.append([NewEvent(f"stream-{n}", Noted(text="x", n=n))], TEST_METADATA)
            await until(lambda n=n: _at(db, n + 1))
        records = await published(settings, 5)
    assert sorted(msgspec.json.decode(r.value)["position"] for r in records) == [1, 2, 3, 4, 5]


async def _at(db, position: int) -> bool:
    return await relay_position(db) >= position


@pytest.mark.parametrize(("topic_made_again", "seen_in"), [
    ("by the broker", "end offsets"), ("as configured", "acknowledged offsets")])
async def test_a_broker_that_lost_its_data_gets_the_ledger_again(settings, db, tmp_path, caplog,
                                                                  topic_made_again, seen_in):
    """Found by the first send after the restart, though the poll interval
    (when a quiet relay asks for the end offsets) is longer than the test.
    Made again as configured, the topic's first acknowledgement is below the
    end seen before; made by the broker on the first request after its
    restart, it has its default number of partitions (one more here), and a
    partition never seen makes the relay ask for every end."""
    broker = EmbeddedKafka(free_port(), log_file=tmp_path / "broker.log")
    broker.start()
    settings = msgspec.structs.replace(settings, kafka_bootstrap_servers=broker.bootstrap)
    ledger = Ledger(db, TEST_CATALOG)
    try:
        async with running_relay(settings, poll_interval=60):
            await ledger.append([NewEvent(f"stream-{n}", Noted(text="x", n=n)) for n in range(30)], TEST_METADATA)
            await until(lambda: _at(db, 30))
            broker.stop()
            broker.start()  # memory-only: the topic and its 30 records are gone
            if topic_made_again == "as configured":
                await ensure_topics(broker.bootstrap, [settings.topic("ledger")], settings.kafka_partitions)
            await ledger.append([NewEvent("stream-0", Noted(text="after", n=30))], TEST_METADATA)
            records = await published(settings, 32)  # 31 twice: sent before the loss was known
    finally:
        broker.stop()
    assert sorted(msgspec.json.decode(r.value)["position"] for r in records) == [*range(1, 32), 31]
    assert [r.seen_in for r in caplog.records if r.message.startswith("broker lost")] == [seen_in]
