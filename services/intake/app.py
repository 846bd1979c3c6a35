"""The intake process: Kafka commands in, outcomes out, /metrics and /readyz.

Its own process (`credledger intake`, started by `credledger up`) rather
than a task in the issuance service: it is killed, restarted and scaled on
its own (a consumer group spreads issuers' partitions over its replicas),
and a backlog of commands never competes with HTTP requests for the
issuance service's event loop. It runs the same domain code in-process:
an issuance context of its own (registry state, hosted keys, signing
processes) and the revocation service's StatusChanger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from services.intake.commands import IntakeTopics
from services.intake.execution import CommandRunner
from services.intake.intake import Intake, IntakeMetrics
from services.issuance.context import CONTEXT_KEY, default_signing_processes, issuance_context
from services.revocation.status_changes import StatusChanger
from shared.bus import BusConsumer, ensure_topics, new_producer
from shared.events import CATALOG
from shared.http.common_handlers import WHOAMI
from shared.ledger.eventstore.store import Ledger
from shared.lifecycle import sleep_or_stop, wait_any
from shared.registry_state import RegistryProjection
from shared.service import (
    METRICS_REGISTRY_KEY,
    POOL_KEY,
    PROJECTION_METRICS_KEY,
    RUNNERS_KEY,
    SETTINGS_KEY,
    create_service_app,
    projection_context,
)
from shared.settings import Settings

log = logging.getLogger(__name__)
# Commands per poll: at most one batched ledger append's worth per issuer run.
MAX_RECORDS = 2000
RETRY_SECONDS = 1.0


def _registry(app: web.Application) -> RegistryProjection:
    return RegistryProjection(app[CONTEXT_KEY].state, "intake.registry")


async def _consume(app: web.Application, intake: Intake, topics: IntakeTopics, stop: asyncio.Event) -> None:
    settings = app[SETTINGS_KEY]
    # Commands are judged against the registry: not before it is current.
    while not stop.is_set() and not all(r.caught_up.is_set() for r in app[RUNNERS_KEY]):
        await wait_any(1.0, stop, *(r.caught_up for r in app[RUNNERS_KEY]))
    metrics = app[PROJECTION_METRICS_KEY].consumer  # one kafka_consumer_lag per process, group-labelled
    while not stop.is_set():
        consumer = BusConsumer(settings.kafka_bootstrap_servers, [topics.commands], settings.topic("intake"),
                               intake.handle, metrics, max_records=MAX_RECORDS)
        try:
            await consumer.start()
            while not stop.is_set():
                await consumer.poll_once(stop=stop)
        except Exception:  # noqa: BLE001 - any failure: re-read from the last commit
            log.exception("intake batch failed; re-reading from the committed offsets")
            await sleep_or_stop(stop, RETRY_SECONDS)
        finally:
            await consumer.stop()


async def _intake_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, ctx = app[SETTINGS_KEY], app[CONTEXT_KEY]
    topics = IntakeTopics.named(settings.kafka_topic_prefix)
    await ensure_topics(settings.kafka_bootstrap_servers, topics.all, settings.kafka_partitions)
    producer = new_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    runner = CommandRunner(ctx, StatusChanger(Ledger(app[POOL_KEY], CATALOG)))
    intake = Intake(app[POOL_KEY], ctx.state, runner, producer, topics, IntakeMetrics(app[METRICS_REGISTRY_KEY]))
    stop = asyncio.Event()
    task = asyncio.create_task(_consume(app, intake, topics, stop))
    yield
    stop.set()
    await task
    await producer.stop()


def create_app(settings: Settings, *, signing_processes: int | None = None) -> web.Application:
    processes = default_signing_processes() if signing_processes is None else signing_processes
    # /v1/whoami lets `credledger push` learn its issuer id from the API key.
    return create_service_app(settings, "intake", [WHOAMI], contexts=[
        issuance_context(processes), projection_context(_registry), _intake_ctx,
    ])
