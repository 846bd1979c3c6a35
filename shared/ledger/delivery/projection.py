"""Projections: read models built from the ledger, applied exactly once.

A projection remembers the last ledger position it applied and that
position's chain hash, atomically with its own state (the same Postgres
transaction, or the same in-memory snapshot). The runner feeds it events in
strict position order:

1. on start it catches up from the ledger itself, so a consumer never depends
   on the broker still holding old messages;
2. then it follows Kafka; events at or below the applied position are
   duplicates and dropped; a batch that does not continue exactly where the
   projection stands (a gap: partitions interleave, a broker lost data) is
   replaced by a read of that range from the ledger;
3. a broker record that does not extend the hash chain, or is not the
   ledger's row at its position (shared/ledger/delivery/feed.py), is never applied:
   that range is read from the ledger too, the rejection is counted and
   logged as a security event, and the runner reports itself degraded until
   the ledger has given it the forged position;
4. when Kafka is quiet it asks the ledger whether it fell behind anyway.

So re-delivery never double-applies, a lost message never goes missing and a
forged one never lands.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import msgspec
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.bus import NO_AUTH, BusConsumer, ConsumerMetrics, KafkaAuth, ensure_topics
from shared.db.pool import Connection
from shared.db.sql import load_queries
from shared.ledger.delivery.feed import Break, ChainBreak, first_break, first_unlike
from shared.ledger.eventstore import readers
from shared.ledger.eventstore.events import RECORDED_EVENT_DECODER, RecordedEvent
from shared.ledger.eventstore.store import Ledger
from shared.lifecycle import sleep_or_stop

QUERIES = load_queries("shared.ledger.delivery")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Applied:
    """Where a projection stands. `hash` is None where it was stored before
    projections kept hashes; the runner then reads it from the ledger."""

    position: int = 0
    hash: bytes | None = None


class Projection(abc.ABC):
    name: str

    @abc.abstractmethod
    async def load_applied(self) -> Applied:
        """The last position applied (0 for none) and its chain hash."""

    @abc.abstractmethod
    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Apply consecutive events and record the last one's position and
        hash atomically."""

    async def apply_if_anchored(self, events: Sequence[RecordedEvent]) -> bool | None:
        """For broker records already checked as a chain from the applied
        position: apply them only if the ledger holds the last one's hash at
        its position, checked in the same statement that applies them;
        whether it did. None: this projection cannot, and the runner checks
        the ledger first, then calls `apply`."""
        return None


class PostgresProjection(Projection):
    """A projection whose rows live in Postgres beside its progress row."""

    def __init__(self, pool: asyncpg.Pool, name: str) -> None:
        self.pool = pool
        self.name = name

    async def load_applied(self) -> Applied:
        row = await self.pool.fetchrow(QUERIES["projection_applied"], self.name)
        return Applied(row["position"], row["hash"]) if row else Applied()

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        if not any(self.affects(e) for e in events):
            # Only the progress row changes: one round trip instead of a
            # transaction's five, for the batch every issued credential
            # brings back through the issuing service's own projection.
            last = events[-1]
            await self.pool.execute(QUERIES["advance_projection_progress"], self.name, last.position, last.hash)
            return
        async with self.pool.acquire() as conn, conn.transaction():
            # Row lock on the progress row: two runners of the same projection
            # (a rebalance overlap) serialise here, and the loser's stale
            # events are filtered by the position check below.
            current = await conn.fetchval(QUERIES["lock_projection_progress"], self.name)
            fresh = [e for e in events if e.position > current]
            if not fresh:
                return
            if not any(self.affects(e) for e in fresh):
                # Only the progress row changes. Committed without waiting for
                # its fsync, it stays off the WAL flush the ledger's appends
                # wait for; a crash may lose it (whole), and these events are
                # applied again, doing nothing again.
                await conn.execute(QUERIES["commit_without_flush"])
            for event in fresh:
                await self.apply_one(conn, event)
            await conn.execute(QUERIES["save_projection_progress"], self.name, fresh[-1].position, fresh[-1].hash)

    async def apply_if_anchored(self, events: Sequence[RecordedEvent]) -> bool | None:
        if any(self.affects(e) for e in events):
            return None
        last = events[-1]
        anchored: bool = await self.pool.fetchval(
            QUERIES["advance_projection_progress_if_anchored"], self.name, last.position, last.hash)
        return anchored

    async def apply_through_head(self, conn: Connection, event_type_pattern: str) -> None:
        """Apply, inside the caller's transaction, every event up to the head
        whose type matches the LIKE pattern, and record the head as applied.

        Meant for a writer that still holds the ledger's append lock right
        after its append, so the head cannot move: its rows commit together
        with its events and the runner that follows Kafka later skips them.
        """
        current = await conn.fetchval(QUERIES["lock_projection_progress"], self.name)
        head, head_hash = await readers.head(conn)
        if head <= current:
            return
        for event in await readers.read_range_of_types(conn, current, head, event_type_pattern):
            await self.apply_one(conn, event)
        await conn.execute(QUERIES["save_projection_progress"], self.name, head, head_hash)

    @abc.abstractmethod
    async def apply_one(self, conn: Connection, event: RecordedEvent) -> None:
        """Apply one event inside the projection's transaction."""

    def affects(self, event: RecordedEvent) -> bool:
        """False only if applying `event` writes nothing (and appends nothing
        to the ledger): a projection that follows every event but acts on few
        says so, and a batch of nothing else commits only its progress."""
        return True


class ProjectionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.position = Gauge("projection_position", "Last ledger position applied", ["projection"], registry=registry)
        self.lag = Gauge("projection_lag_events", "Ledger events not yet applied", ["projection"], registry=registry)
        self.rejected = Counter(
            "credledger_feed_records_rejected", "Ledger topic records not applied: they failed the chain check",
            ["projection", "reason"], registry=registry)
        self.degraded = Gauge(
            "credledger_feed_degraded", "1 while a rejected record's position is not yet applied from the ledger",
            ["projection"], registry=registry)
        self.consumer = ConsumerMetrics(registry)


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        ledger: Ledger,
        bootstrap: str,
        topic: str,
        *,
        group_id: str | None,
        metrics: ProjectionMetrics | None = None,
        partitions: int = 4,
        idle_check_interval: float = 1.0,
        broker_retry_interval: float = 5.0,
        catch_up_batch: int = 5000,
        auth: KafkaAuth = NO_AUTH,
    ) -> None:
        self.projection = projection
        self._ledger = ledger
        self._bootstrap = bootstrap
        self._auth = auth
        self._topic = topic
        # None: no consumer group (see BusConsumer), for in-memory projections.
        self._group_id = group_id
        self._metrics = metrics or ProjectionMetrics(CollectorRegistry())
        self._partitions = partitions
        self._idle_check_interval = idle_check_interval
        self._broker_retry_interval = broker_retry_interval
        self._catch_up_batch = catch_up_batch
        self.position = 0
        self.last_hash = b""
        # Set once the projection has applied the whole ledger as it stood;
        # cleared while an outage interrupts it, so nobody decides from a
        # read model that may have stopped following the ledger.
        self.caught_up = asyncio.Event()
        self._advanced = asyncio.Event()
        # The highest position a rejected record claimed.
        self._rejected: ChainBreak | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the projection current until `stop`, surviving any outage.

        After an error the position is reloaded from the projection itself:
        a durable projection rolled its failed transaction back, and an
        in-memory one kept what it applied.
        """
        while not stop.is_set():
            try:
                await self._run_once(stop)
            except Exception as exc:  # noqa: BLE001 - a read model must outlive outages
                self.caught_up.clear()
                log.warning("projection interrupted; retrying",
                            extra={"projection": self.projection.name, "error": repr(exc)})
                await sleep_or_stop(stop, self._broker_retry_interval)

    @property
    def degraded(self) -> str | None:
        """Why the runner is not trustworthy yet, or None."""
        if self._rejected is None or self.position >= self._rejected.position:
            return None
        return (f"rejected a ledger topic record at position {self._rejected.position}"
                f" (chain check failed: {self._rejected.kind.value}); applied up to {self.position}"
                " from the ledger, waiting for it to reach that position")

    async def reached(self, position: int, timeout: float) -> bool:
        """Whether the projection applies `position` within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.position < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._advanced.clear()
            try:
                await asyncio.wait_for(self._advanced.wait(), remaining)
            except TimeoutError:
                return self.position >= position
        return True

    async def _run_once(self, stop: asyncio.Event) -> None:
        applied = await self.projection.load_applied()
        self.position = applied.position
        last_hash = applied.hash or await self._ledger.hash_at(applied.position)
        if last_hash is None:
            raise LookupError(f"{self.projection.name} is at position {applied.position}, beyond the ledger")
        self.last_hash = last_hash
        await self.catch_up()
        self.caught_up.set()
        while not stop.is_set():
            try:
                await self._follow_kafka(stop)
            except (KafkaError, OSError) as exc:
                # Without the broker the ledger alone keeps us current, just
                # with polling latency; retry Kafka after a pause.
                log.warning("projection lost the broker; polling the ledger",
                            extra={"projection": self.projection.name, "error": repr(exc)})
                await self._poll_ledger_for(stop, self._broker_retry_interval)

    async def _follow_kafka(self, stop: asyncio.Event) -> None:
        await ensure_topics(self._bootstrap, [self._topic], self._partitions, self._auth)
        consumer = BusConsumer(
            self._bootstrap, [self._topic], self._group_id, self._on_records, self._metrics.consumer,
            auth=self._auth,
        )
        await consumer.start()
        try:
            last_ledger_check = time.monotonic()
            while not stop.is_set():
                if await consumer.poll_once(timeout_ms=200, stop=stop):
                    continue
                if time.monotonic() - last_ledger_check >= self._idle_check_interval:
                    await self.catch_up()
                    last_ledger_check = time.monotonic()
        finally:
            await consumer.stop()

    async def _poll_ledger_for(self, stop: asyncio.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            await self.catch_up()
            await sleep_or_stop(stop, self._idle_check_interval)

    async def catch_up(self) -> None:
        """Apply everything the ledger has beyond our position."""
        while True:
            events = await self._ledger.read_from(self.position, self._catch_up_batch)
            if not events:
                break
            await self._apply(events)
        self._report(await self._ledger.head_position())

    async def _on_records(self, records: Sequence[ConsumerRecord]) -> None:
        received = self._decode(records)
        fresh = _dedupe([e for e, _ in received if e.position > self.position])
        if not fresh:
            return
        last = fresh[-1].position
        broken = first_break(self.position, self.last_hash, fresh)
        # A projection that can check the anchor in the statement applying
        # the batch saves a round trip per batch (most batches, for one that
        # acts on few events).
        applied = await self.projection.apply_if_anchored(fresh) if broken is None else False
        if applied:
            self._applied(fresh[-1])
            self._report(last)
            return
        anchored = applied is None and await self._ledger.hash_at(last) == fresh[-1].hash
        if not anchored:
            # The ledger is the source of truth; a forged `last` is no head.
            from_ledger = await self._ledger.read_range(self.position, last)
            broken = broken or ChainBreak(Break.NOT_IN_LEDGER, first_unlike(fresh, from_ledger))
            if broken.kind is not Break.GAP:
                self._reject(broken, next(r for e, r in received if e.position == broken.position))
            fresh = from_ledger
        if fresh:
            await self._apply(fresh)
        self._report(last if anchored else self.position)

    def _decode(self, records: Sequence[ConsumerRecord]) -> list[tuple[RecordedEvent, ConsumerRecord]]:
        decoded = []
        for record in records:
            try:
                decoded.append((RECORDED_EVENT_DECODER.decode(record.value), record))
            except msgspec.DecodeError:
                self._reject(ChainBreak(Break.MALFORMED, self.position + 1), record)
        return sorted(decoded, key=lambda pair: pair[0].position)

    def _reject(self, broken: ChainBreak, record: ConsumerRecord) -> None:
        name = self.projection.name
        self._metrics.rejected.labels(name, broken.kind.value).inc()
        if self._rejected is None or broken.position > self._rejected.position:
            self._rejected = broken
        # Where the record came from and why it failed; never its content.
        log.error("ledger topic record at position %d rejected: chain check failed (%s)",
                  broken.position, broken.kind.value, extra={
            "security_event": "ledger_feed_record_rejected", "projection": name,
            "reason": broken.kind.value, "position": broken.position, "applied_position": self.position,
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
        })
        self._report(self.position)

    async def _apply(self, events: Sequence[RecordedEvent]) -> None:
        await self.projection.apply(events)
        self._applied(events[-1])

    def _applied(self, last: RecordedEvent) -> None:
        self.position = last.position
        self.last_hash = last.hash
        self._advanced.set()

    def _report(self, head: int) -> None:
        name = self.projection.name
        self._metrics.position.labels(name).set(self.position)
        self._metrics.lag.labels(name).set(max(head - self.position, 0))
        self._metrics.degraded.labels(name).set(self.degraded is not None)


def _dedupe(events: list[RecordedEvent]) -> list[RecordedEvent]:
    unique: list[RecordedEvent] = []
    for event in events:
        if not unique or unique[-1].position != event.position:
            unique.append(event)
    return unique
