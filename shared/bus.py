"""Kafka plumbing: topic creation, a producer and a consumer with manual commits.

Nothing here relies on the idempotent producer or on transactions: the
embedded broker lacks both, and the design does not need them. Correctness
comes from the ledger (the outbox) and from consumers that remember the last
ledger position they applied; Kafka is a fast, at-least-once carrier.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from prometheus_client import CollectorRegistry, Gauge

from shared.settings import Settings

log = logging.getLogger(__name__)


class KafkaAuth(msgspec.Struct, frozen=True, kw_only=True):
    """How a client proves who it is to the brokers: SASL SCRAM, optionally
    over TLS; the default is no authentication (the embedded broker)."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    username: str = ""
    password: str = ""

    @classmethod
    def of(cls, settings: Settings) -> KafkaAuth:
        return cls(security_protocol=settings.kafka_security_protocol, sasl_mechanism=settings.kafka_sasl_mechanism,
                   username=settings.kafka_sasl_username, password=settings.kafka_sasl_password)

    def client_options(self) -> dict[str, object]:
        """Keyword arguments for every aiokafka client."""
        options: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = create_ssl_context()
        if self.sasl_mechanism:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        return options


NO_AUTH = KafkaAuth()


async def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int, auth: KafkaAuth = NO_AUTH) -> None:
    """Create missing topics; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **auth.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=1)
            for name in names if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter won the race
                await admin.create_topics(wanted)
    finally:
        await admin.close()


def new_producer(bootstrap: str, auth: KafkaAuth = NO_AUTH) -> AIOKafkaProducer:
    # acks=all so that a publish the relay records as done is on every
    # in-sync replica; idempotence off because the embedded broker cannot do it.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
        **auth.client_options(),
    )


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "kafka_consumer_lag", "Messages behind the partition's high watermark",
            ["group", "topic", "partition"], registry=registry,
        )


Handler = Callable[[Sequence[ConsumerRecord]], Awaitable[None]]


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Commit what was processed before partitions move to another member,
    so the new owner re-reads as little as possible."""

    def __init__(self, consumer: BusConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._consumer.commit_processed()
        log.info("partitions revoked", extra={"partitions": [str(tp) for tp in revoked]})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": [str(tp) for tp in assigned]})


class BusConsumer:
    """A consumer that commits offsets only after its handler has durably
    applied a batch (at-least-once, never at-most-once).

    With a `group_id` it is a consumer-group member (partitions balanced
    across members, offsets committed). Without one it reads every partition
    from the current end and commits nothing: for in-memory read models that
    rebuild from the ledger on start and need every event in every replica.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str | None,
        handler: Handler,
        metrics: ConsumerMetrics | None = None,
        max_records: int = 5000,
        auth: KafkaAuth = NO_AUTH,
    ) -> None:
        self._topics = topics
        self._group_id = group_id
        self._handler = handler
        self._metrics = metrics
        self._max_records = max_records
        self._processed: dict[TopicPartition, int] = {}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            **auth.client_options(),
            group_id=group_id,
            enable_auto_commit=False,
            # A broker that lost its data (the memory-only embedded one) has
            # offsets below the committed ones; start over rather than wait.
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            # The smallest session Kafka brokers accept by default: a member
            # that died is replaced sooner, and groups form faster.
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
            # How long a fetch may wait for data. Kafka answers as soon as
            # data arrives, but the embedded broker waits the full time, so
            # this bounds event latency there (revoke -> verification p99).
            fetch_max_wait_ms=20,
        )

    async def start(self) -> None:
        await self._consumer.start()
        if self._group_id is not None:
            self._consumer.subscribe(list(self._topics), listener=_CommitOnRevoke(self))
            return
        await self._consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
        partitions = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)

    async def stop(self) -> None:
        try:
            await self.commit_processed()
        finally:
            await self._consumer.stop()

    async def poll_once(self, timeout_ms: int = 500, stop: asyncio.Event | None = None) -> int:
        """Fetch one batch, hand it to the handler, then commit. Returns its size.

        Setting `stop` abandons the fetch (a first fetch can wait seconds for
        the group to form) but never a batch the handler has started on.
        """
        fetch = asyncio.ensure_future(
            self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
        )
        if stop is not None:
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait((fetch, stopped), return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not fetch.done():
                fetch.cancel()
                return 0
        batches = await fetch
        records = [r for part in batches.values() for r in part]
        if records:
            await self._handler(records)
            for tp, part in batches.items():
                self._processed[tp] = part[-1].offset + 1
            await self.commit_processed()
        await self._report_lag()
        return len(records)

    async def commit_processed(self) -> None:
        if not self._processed or self._group_id is None:
            return
        offsets, self._processed = self._processed, {}
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # Losing a commit only means re-reading; the handler is idempotent.
            log.warning("offset commit failed", extra={"error": repr(exc)})

    async def _report_lag(self) -> None:
        if self._metrics is None:
            return
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self._consumer.position(tp)
            self._metrics.lag.labels(self._group_id or "", tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of `topic`, from fresh metadata (a started consumer's may be empty)."""
    await consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
