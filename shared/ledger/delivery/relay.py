"""The relay: publishes ledger events to Kafka in position order.

Exactly one relay is active at a time: it holds a session-level advisory lock
on a dedicated connection, so if its process dies the lock is released with
the connection and a waiting relay takes over. Progress is recorded in
Postgres only after the broker acknowledged every message of a batch, so a
crash re-publishes (at-least-once) and never skips.

A notification on `ledger_appended` wakes it early; polling every
`poll_interval` seconds is the guarantee (notifications are lost while no one
listens, and LISTEN is per connection).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata
from prometheus_client import CollectorRegistry, Gauge

from shared.bus import NO_AUTH, KafkaAuth, ensure_topics, new_producer
from shared.db.sql import load_queries
from shared.ledger.delivery.partitioning import partitions_of
from shared.ledger.eventstore import readers
from shared.ledger.eventstore.events import RECORDED_EVENT_ENCODER, RecordedEvent
from shared.lifecycle import sleep_or_stop, wait_any

QUERIES = load_queries("shared.ledger.delivery")

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = 0x6372_6564_6C64_0002


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.head = Gauge("ledger_head_position", "Last position appended to the ledger", registry=registry)
        self.published = Gauge("relay_published_position", "Last ledger position acknowledged by Kafka", registry=registry)
        self.lag = Gauge("relay_lag_events", "Ledger events not yet published to Kafka", registry=registry)
        self.active = Gauge("relay_active", "1 while this process holds the relay lock", registry=registry)


class Relay:
    def __init__(
        self,
        dsn: str,
        bootstrap: str,
        topic: str,
        *,
        partitions: int = 4,
        name: str = "ledger",
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        metrics: RelayMetrics | None = None,
        auth: KafkaAuth = NO_AUTH,
        on_read: Callable[[Sequence[RecordedEvent]], None] | None = None,
    ) -> None:
        self._dsn = dsn
        # Told every batch read from the ledger (the checkpointer of the
        # same process takes the rows it has not hashed yet from it).
        self._on_read = on_read
        self._bootstrap = bootstrap
        self._auth = auth
        self._topic = topic
        self._partitions = partitions
        self._name = name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._metrics = metrics or RelayMetrics(CollectorRegistry())
        self._wake = asyncio.Event()
        # The highest end offset seen per partition (reported by the broker,
        # or a lower bound from an acknowledgement). Ends never shrink on a
        # healthy broker, so a smaller one means it lost data (the embedded
        # broker is memory-only).
        self._seen_end: dict[int, int] = {}
        self._position = 0  # the last position published, as saved

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the lock, then publish until `stop` is set; survive outages."""
        while not stop.is_set():
            try:
                await self._run_while_leader(stop)
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any outage
                log.warning("relay interrupted, retrying", extra={"error": repr(exc)})
                self._metrics.active.set(0)
                await sleep_or_stop(stop, self._poll_interval)

    async def _run_while_leader(self, stop: asyncio.Event) -> None:
        # This connection writes only the relay's own position. Committed
        # without waiting for its fsync, it stays off the WAL flush the ledger's
        # appends wait for (one more per append otherwise); a crash may lose
        # the latest position, and the relay publishes those events again,
        # which consumers drop as duplicates, as after a crash between a send
        # and its save.
        conn = await asyncpg.connect(self._dsn, server_settings={"synchronous_commit": "off"})
        try:
            if not await self._acquire_lock(conn, stop):
                return
            self._metrics.active.set(1)
            log.info("relay active", extra={"relay": self._name})
            await conn.add_listener("ledger_appended", lambda *_: self._wake.set())
            await ensure_topics(self._bootstrap, [self._topic], self._partitions, self._auth)
            producer = new_producer(self._bootstrap, self._auth)
            offsets = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, **self._auth.client_options())
            await producer.start()
            await offsets.start()
            try:
                await self._publish_loop(conn, producer, offsets, stop)
            finally:
                await producer.stop()
                await offsets.stop()
        finally:
            self._metrics.active.set(0)
            await conn.close()

    async def _acquire_lock(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            if await conn.fetchval(QUERIES["try_advisory_lock"], RELAY_LOCK_KEY):
                return True
            await sleep_or_stop(stop, self._poll_interval)
        return False

    async def _publish_loop(
        self, conn: asyncpg.Connection, producer: AIOKafkaProducer,
        offsets: AIOKafkaConsumer, stop: asyncio.Event,
    ) -> None:
        await conn.execute(QUERIES["register_relay"], self._name)
        # Only the lock holder writes the position: read once per leadership,
        # then kept here, so a wake-up costs one read, one send and one save.
        self._position = await conn.fetchval(QUERIES["relay_position"], self._name)
        await self._detect_broker_loss(conn, offsets)
        while not stop.is_set():
            self._wake.clear()
            if await self._publish_batch(conn, producer, offsets) or self._wake.is_set():
                continue  # a full batch (more may be waiting), or an append came in meanwhile
            await wait_any(self._poll_interval, stop, self._wake)
            if not self._wake.is_set() and not stop.is_set():
                # Quiet: the acknowledgements were checked batch by batch; the
                # end offsets also cover a loss that no send has met yet.
                await self._detect_broker_loss(conn, offsets)

    async def _publish_batch(
        self, conn: asyncpg.Connection, producer: AIOKafkaProducer, offsets: AIOKafkaConsumer,
    ) -> bool:
        """Publish the next batch after the position; whether it was a full
        one (or the broker lost data, so there is all the ledger to send).

        A short batch took everything committed when it was read (appends
        commit in position order), so the loop reads again only when woken.
        """
        events = await readers.read_from(conn, self._position, self._batch_size)
        if events and self._on_read is not None:
            self._on_read(events)
        if events:
            acks = await self._send_all(producer, events)
            # A partition never seen: the topic was made again (a broker that
            # lost it creates it anew on the first request), so ask for its ends.
            unseen = bool(self._seen_end) and any(ack.partition not in self._seen_end for ack in acks)
            if shrunk := self._shrunk_by(acks):
                await self._rewind(conn, shrunk, "acknowledged offsets")
                return True
            if unseen and await self._detect_broker_loss(conn, offsets):
                return True
            self._position = events[-1].position
            await conn.execute(QUERIES["save_relay_position"], self._name, self._position)
        full = len(events) == self._batch_size
        head = await readers.head_position(conn) if full else self._position
        self._metrics.head.set(head)
        self._metrics.published.set(self._position)
        self._metrics.lag.set(head - self._position)
        return full

    async def _send_all(self, producer: AIOKafkaProducer, events: Sequence[RecordedEvent]) -> list[RecordMetadata]:
        """Publish in record batches built here, one partition at a time: a
        message future and accumulator pass per batch, not per event. Each
        event goes to the partition the producer's own partitioner would
        pick for its key (so a stream stays on one partition, in order),
        computed by partitioning.py's murmur2, for the whole batch at once."""
        partitions = sorted(await producer.partitions_for(self._topic))
        keys = [event.stream_id.encode() for event in events]
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        for key, partition, event in zip(keys, partitions_of(keys, partitions), events, strict=True):
            by_partition.setdefault(partition, []).append((key, RECORDED_EVENT_ENCODER.encode(event)))
        futures = []
        for partition, records in by_partition.items():
            batch = producer.create_batch()
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, self._topic, partition=partition))
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        raise ValueError(f"a ledger event of {len(value)} bytes exceeds the producer's batch size")
            futures.append(await producer.send_batch(batch, self._topic, partition=partition))
        # Only after every acknowledgement may the position move forward.
        return list(await asyncio.gather(*futures))

    def _shrunk_by(self, acks: Sequence[RecordMetadata]) -> list[int]:
        """Partitions whose acknowledged offset fell below an end seen before:
        the broker lost data (the embedded broker is memory-only). A batch
        lands at or past the end at the time, so on a healthy broker this never
        holds; checked on every acknowledgement, it costs no round trip and
        meets the first send after a restart, however much the broker got since.
        The end is kept as a lower bound only (offset + 1): brokers differ in
        whether their end counts a batch's records or its first offset."""
        shrunk = sorted({ack.partition for ack in acks if ack.offset < self._seen_end.get(ack.partition, 0)})
        if shrunk:
            self._seen_end = {}
        for ack in acks:
            self._seen_end[ack.partition] = max(self._seen_end.get(ack.partition, 0), ack.offset + 1)
        return shrunk

    async def _detect_broker_loss(self, conn: asyncpg.Connection, offsets: AIOKafkaConsumer) -> bool:
        """Rewind to position 0 when the topic's end offsets went backwards
        (asked at the start of a leadership, when the ledger is quiet and when
        a partition appears); whether it did."""
        partitions = offsets.partitions_for_topic(self._topic)
        if not partitions:
            await offsets._client.force_metadata_update()  # noqa: SLF001 - no public refresh
            partitions = offsets.partitions_for_topic(self._topic) or set()
        tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        ends = {tp.partition: end for tp, end in (await offsets.end_offsets(tps)).items()} if tps else {}
        shrunk = [p for p, seen in self._seen_end.items() if ends.get(p, 0) < seen]
        self._seen_end = ends if shrunk else {p: max(e, self._seen_end.get(p, 0)) for p, e in ends.items()}
        if shrunk:
            await self._rewind(conn, shrunk, "end offsets")
        return bool(shrunk)

    async def _rewind(self, conn: asyncpg.Connection, shrunk: list[int], seen_in: str) -> None:
        log.warning("broker lost published events; re-publishing the ledger from the start",
                    extra={"partitions": shrunk, "seen_in": seen_in})
        await ensure_topics(self._bootstrap, [self._topic], self._partitions, self._auth)
        await conn.execute(QUERIES["reset_relay_position"], self._name)
        self._position = 0
