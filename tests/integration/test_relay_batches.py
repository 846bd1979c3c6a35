"""The relay publishes in record batches it builds per partition: every
event still lands on the partition the producer's partitioner picks for its
stream, in position order, exactly once per publication."""

from __future__ import annotations

import asyncio
import time

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

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
