"""The projection runner checks every broker record against the hash chain
(shared/ledger/delivery/feed.py): forged records of each kind produced straight into
the ledger topic (even one whose hashes are self-consistent) are never
applied, are counted and make the runner report
itself degraded until the ledger has given it that position. Real Postgres,
real broker, the real relay in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Sequence

import msgspec
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from shared.ledger.delivery.projection import (
    Applied,
    PostgresProjection,
    Projection,
    ProjectionMetrics,
    ProjectionRunner,
)
from shared.ledger.eventstore.chain import chain_hash, entry_bytes
from shared.ledger.eventstore.events import RECORDED_EVENT_ENCODER, RecordedEvent
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.logs import JsonFormatter
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted
from tests.support.waiting import eventually, running_relay

NAME = "test.feed"


class AppliedEvents(Projection):
    """Keeps every event it was given, in memory."""

    name = NAME

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    async def load_applied(self) -> Applied:
        return Applied(self.events[-1].position, self.events[-1].hash) if self.events else Applied()

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        self.events.extend(events)


class ProgressOnly(PostgresProjection):
    async def apply_one(self, conn, event: RecordedEvent) -> None:
        """Nothing beyond the progress row, which is what these tests read."""


@pytest.fixture
def ledger(db) -> Ledger:
    return Ledger(db, TEST_CATALOG)


@contextlib.asynccontextmanager
async def following(settings, ledger: Ledger, projection: Projection):
    """The relay and a runner following the topic; after its start-up
    catch-up the runner only moves on Kafka records (idle check hourly)."""
    registry = CollectorRegistry()
    runner = ProjectionRunner(projection, ledger, settings.kafka_bootstrap_servers, settings.topic("ledger"),
                              group_id=None, partitions=settings.kafka_partitions,
                              metrics=ProjectionMetrics(registry), idle_check_interval=3600)
    stop = asyncio.Event()
    async with running_relay(settings):
        task = asyncio.create_task(runner.run(stop))
        await runner.caught_up.wait()
        try:
            yield runner, registry
        finally:
            stop.set()
            await task


async def produce(settings, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic("ledger"), value, key=b"credential:forged", partition=0)
    finally:
        await producer.stop()


def forged(after: RecordedEvent, *, prev_hash: bytes | None = None, wrong_hash: bool = False) -> bytes:
    """A well-formed record at the next position, its hash computed from
    the prev_hash it claims unless `wrong_hash`."""
    prev = after.hash if prev_hash is None else prev_hash
    payload, metadata = b'{"n":666,"text":"revoked (fraud)"}', bytes(after.metadata)
    position = after.position + 1
    digest = os.urandom(32) if wrong_hash else chain_hash(
        prev, entry_bytes(position, "credential:forged", 1, "test.Noted", payload, metadata))
    return RECORDED_EVENT_ENCODER.encode(RecordedEvent(
        position=position, stream_id="credential:forged", version=1, event_type="test.Noted",
        payload=msgspec.Raw(payload), metadata=msgspec.Raw(metadata), prev_hash=prev, hash=digest))


def rejected(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value(
        "credledger_feed_records_rejected_total", {"projection": NAME, "reason": reason}) or 0.0


async def append_and_wait(ledger: Ledger, runner: ProjectionRunner, count: int) -> None:
    await ledger.append([NewEvent(f"real-{i}", Noted(text="real", n=i)) for i in range(count)], TEST_METADATA)
    head = await ledger.head_position()
    await eventually(lambda: asyncio.sleep(0, runner.position == head or None))


@pytest.mark.parametrize("forge, reason", [
    (lambda last: forged(last, wrong_hash=True), "hash"),
    (lambda last: forged(last, prev_hash=bytes(32)), "prev_hash"),
    # Linked and hashed correctly (anyone can compute SHA-256): only the
    # ledger can tell it is not its row.
    (lambda last: forged(last), "not_in_ledger"),
    (lambda last: b'{"position": "not a ledger record"', "malformed"),
], ids=["wrong-hash", "wrong-prev-hash", "self-consistent", "malformed"])
async def test_a_forged_record_is_rejected_counted_and_degrades_until_the_ledger_passes_it(
        settings, ledger, forge, reason, caplog):
    caplog.set_level(logging.ERROR, logger="shared.ledger.delivery.projection")
    projection = AppliedEvents()
    async with following(settings, ledger, projection) as (runner, registry):
        await append_and_wait(ledger, runner, 3)
        assert runner.degraded is None
        await produce(settings, forge(projection.events[-1]))
        await eventually(lambda: asyncio.sleep(0, rejected(registry, reason) == 1 or None))
        assert "position 4" in runner.degraded
        assert registry.get_sample_value("credledger_feed_degraded", {"projection": NAME}) == 1
        assert [e.position for e in projection.events] == [1, 2, 3]
        [event] = [r for r in caplog.records if getattr(r, "security_event", "") == "ledger_feed_record_rejected"]
        line = json.loads(JsonFormatter("test").format(event))
        assert (line["reason"], line["position"], line["projection"]) == (reason, 4, NAME)
        assert "revoked" not in json.dumps(line)  # where it came from, never what it said

        await append_and_wait(ledger, runner, 1)
        assert runner.degraded is None
        assert registry.get_sample_value("credledger_feed_degraded", {"projection": NAME}) == 0
        assert projection.events == await ledger.read_from(0)


async def test_a_record_beyond_a_gap_is_replaced_by_the_ledger_as_before(settings, ledger):
    projection = AppliedEvents()
    async with following(settings, ledger, projection) as (runner, registry):
        await append_and_wait(ledger, runner, 3)
        far = msgspec.structs.replace(projection.events[-1], position=999_999)
        await produce(settings, forged(far))
        await append_and_wait(ledger, runner, 2)
        assert projection.events == await ledger.read_from(0)
        assert runner.degraded is None
        assert all(rejected(registry, reason) == 0 for reason in ("hash", "prev_hash", "not_in_ledger", "malformed"))


async def test_the_last_hash_is_stored_with_the_position_and_read_back_on_restart(settings, ledger, db):
    projection = ProgressOnly(db, NAME)
    async with following(settings, ledger, projection) as (runner, _):
        await append_and_wait(ledger, runner, 5)
    assert await projection.load_applied() == Applied(5, await ledger.hash_at(5))

    # A progress row from before hashes were kept: the ledger supplies it.
    await db.execute("UPDATE ledger.projection_progress SET hash = NULL WHERE projection = $1", NAME)
    async with following(settings, ledger, projection) as (runner, registry):
        assert (runner.position, runner.last_hash) == (5, await ledger.hash_at(5))
        await append_and_wait(ledger, runner, 1)  # the consumer is live (it starts at the topic's end)
        await produce(settings, forged((await ledger.read_from(5))[0], wrong_hash=True))
        await eventually(lambda: asyncio.sleep(0, rejected(registry, "hash") == 1 or None))
        assert await projection.load_applied() == Applied(6, await ledger.hash_at(6))


class ActsOnNothing(ProgressOnly):
    """Moves only its progress: the runner anchors its batches in the
    statement that writes that progress (PostgresProjection.apply_if_anchored)."""

    def affects(self, event: RecordedEvent) -> bool:
        return False


@pytest.mark.parametrize("forge, reason", [
    (lambda last: forged(last, wrong_hash=True), "hash"),
    (lambda last: forged(last), "not_in_ledger"),
], ids=["wrong-hash", "self-consistent"])
async def test_a_forged_record_never_moves_a_progress_only_projection(settings, ledger, db, forge, reason):
    projection = ActsOnNothing(db, NAME)
    async with following(settings, ledger, projection) as (runner, registry):
        await append_and_wait(ledger, runner, 3)
        assert await projection.load_applied() == Applied(3, await ledger.hash_at(3))
        await produce(settings, forge((await ledger.read_from(2))[0]))
        await eventually(lambda: asyncio.sleep(0, rejected(registry, reason) == 1 or None))
        assert await projection.load_applied() == Applied(3, await ledger.hash_at(3))
        assert "position 4" in runner.degraded
        await append_and_wait(ledger, runner, 2)
        assert runner.degraded is None
    assert await projection.load_applied() == Applied(5, await ledger.hash_at(5))


async def test_the_anchored_progress_write_writes_nothing_for_a_hash_the_ledger_does_not_hold(ledger, db):
    await ledger.append([NewEvent(f"real-{i}", Noted(text="real", n=i)) for i in range(2)], TEST_METADATA)
    projection = ActsOnNothing(db, NAME)
    [first, second] = await ledger.read_from(0)
    assert await projection.apply_if_anchored([first]) is True
    assert await projection.apply_if_anchored([msgspec.structs.replace(second, hash=bytes(32))]) is False
    assert await projection.load_applied() == Applied(1, first.hash)
    assert await projection.apply_if_anchored([first]) is True  # anchored, but behind: left as it is
    assert await projection.apply_if_anchored([second]) is True
    assert await projection.load_applied() == Applied(2, second.hash)
    assert await ProgressOnly(db, NAME).apply_if_anchored([second]) is None  # acts on events: the usual way
