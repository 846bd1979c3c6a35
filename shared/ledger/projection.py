"""Projections: read models built from the ledger, applied exactly once.

A projection remembers the last ledger position it applied, atomically with
its own state (the same Postgres transaction, or the same in-memory snapshot).
The runner feeds it events in strict position order:

1. on start it catches up from the ledger itself, so a consumer never depends
   on the broker still holding old messages;
2. then it follows Kafka; events at or below the applied position are
   duplicates and dropped; a batch that does not continue exactly where the
   projection stands (a gap: partitions interleave, a broker lost data) is
   replaced by a read of that range from the ledger;
3. when Kafka is quiet it asks the ledger whether it fell behind anyway.

So re-delivery never double-applies and a lost message never goes missing.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge

from shared.bus import BusConsumer, ConsumerMetrics, ensure_topics
from shared.ledger.events import RECORDED_EVENT_DECODER, RecordedEvent
from shared.ledger.store import QUERIES, Ledger, to_recorded
from shared.lifecycle import sleep_or_stop

log = logging.getLogger(__name__)


class Projection(abc.ABC):
    name: str

    @abc.abstractmethod
    async def load_position(self) -> int:
        """The last position applied (0 for none)."""

    @abc.abstractmethod
    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Apply consecutive events and record the last one's position atomically."""


class PostgresProjection(Projection):
    """A projection whose rows live in Postgres beside its progress row."""

    def __init__(self, pool: asyncpg.Pool, name: str) -> None:
        self.pool = pool
        self.name = name

    async def load_position(self) -> int:
        position = await self.pool.fetchval(
            "SELECT position FROM ledger.projection_progress WHERE projection = $1", self.name
        )
        return position or 0

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # Row lock on the progress row: two runners of the same projection
            # (a rebalance overlap) serialise here, and the loser's stale
            # events are filtered by the position check below.
            current = await conn.fetchval(
                "INSERT INTO ledger.projection_progress (projection) VALUES ($1)"
                " ON CONFLICT (projection) DO UPDATE SET projection = EXCLUDED.projection"
                " RETURNING position",
                self.name,
            )
            fresh = [e for e in events if e.position > current]
            if not fresh:
                return
            for event in fresh:
                await self.apply_one(conn, event)
            await conn.execute(
                "UPDATE ledger.projection_progress SET position = $2, updated_at = now()"
                " WHERE projection = $1",
                self.name, fresh[-1].position,
            )

    @abc.abstractmethod
    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        """Apply one event inside the projection's transaction."""


class ProjectionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.position = Gauge("projection_position", "Last ledger position applied", ["projection"], registry=registry)
        self.lag = Gauge("projection_lag_events", "Ledger events not yet applied", ["projection"], registry=registry)
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
    ) -> None:
        self.projection = projection
        self._ledger = ledger
        self._bootstrap = bootstrap
        self._topic = topic
        # None: no consumer group (see BusConsumer), for in-memory projections.
        self._group_id = group_id
        self._metrics = metrics or ProjectionMetrics(CollectorRegistry())
        self._partitions = partitions
        self._idle_check_interval = idle_check_interval
        self._broker_retry_interval = broker_retry_interval
        self._catch_up_batch = catch_up_batch
        self.position = 0
        # Set once the projection has applied the whole ledger as it stood;
        # cleared while an outage interrupts it, so nobody decides from a
        # read model that may have stopped following the ledger.
        self.caught_up = asyncio.Event()
        self._advanced = asyncio.Event()

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
        self.position = await self.projection.load_position()
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
        await ensure_topics(self._bootstrap, [self._topic], self._partitions)
        consumer = BusConsumer(
            self._bootstrap, [self._topic], self._group_id, self._on_records, self._metrics.consumer
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
        events = sorted(
            (RECORDED_EVENT_DECODER.decode(r.value) for r in records), key=lambda e: e.position
        )
        fresh = _dedupe([e for e in events if e.position > self.position])
        if not fresh:
            return
        last = fresh[-1].position
        if len(fresh) != last - self.position:
            # Not a contiguous continuation: the ledger is the source of truth.
            async with self._ledger.pool.acquire() as conn:
                fresh = to_recorded(await conn.fetch(QUERIES["read_range"], self.position, last))
        await self._apply(fresh)
        self._report(last)

    async def _apply(self, events: Sequence[RecordedEvent]) -> None:
        await self.projection.apply(events)
        self.position = events[-1].position
        self._advanced.set()

    def _report(self, head: int) -> None:
        name = self.projection.name
        self._metrics.position.labels(name).set(self.position)
        self._metrics.lag.labels(name).set(max(head - self.position, 0))


def _dedupe(events: list[RecordedEvent]) -> list[RecordedEvent]:
    unique: list[RecordedEvent] = []
    for event in events:
        if not unique or unique[-1].position != event.position:
            unique.append(event)
    return unique
