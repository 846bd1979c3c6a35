"""The relay process: publishes the ledger to Kafka, with /healthz, /readyz and /metrics.

Run one or more (`credledger relay`); only the one holding the advisory lock
publishes (and only one signs checkpoints), the others wait to take over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.background import BackgroundLoop, running
from shared.bus import KafkaAuth
from shared.ledger.delivery.relay import Relay, RelayMetrics
from shared.ledger.transparency.checkpoints import Checkpointer, CheckpointerMetrics, LogSigner
from shared.logs import configure_logging
from shared.service import LEDGER_TOPIC, METRICS_REGISTRY_KEY, SETTINGS_KEY, healthz, metrics, readiness
from shared.settings import Settings, load_settings

CHECKPOINTER_KEY = web.AppKey("checkpointer", Checkpointer)


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    checkpointer = Checkpointer(
        settings.database_url, LogSigner(settings.log_origin, settings.log_signing_key),
        every_events=settings.checkpoint_every_events, every_seconds=settings.checkpoint_every_seconds,
        metrics=CheckpointerMetrics(app[METRICS_REGISTRY_KEY]),
    )
    # Both read every ledger row in order: the relay's reads feed the log tree too.
    relay = Relay(
        settings.database_url, settings.kafka_bootstrap_servers, settings.topic(LEDGER_TOPIC),
        partitions=settings.kafka_partitions, metrics=RelayMetrics(app[METRICS_REGISTRY_KEY]),
        auth=KafkaAuth.of(settings), on_read=checkpointer.offer,
    )
    app[CHECKPOINTER_KEY] = checkpointer
    async with running(BackgroundLoop("relay", relay.run), BackgroundLoop("checkpointer", checkpointer.run)):
        yield


async def readyz(request: web.Request) -> web.Response:
    halted = request.app[CHECKPOINTER_KEY].halted
    return readiness({"checkpointer": halted is None}, {"checkpointer": halted} if halted else {})


def create_relay_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[SETTINGS_KEY] = settings
    app[METRICS_REGISTRY_KEY] = CollectorRegistry()
    app.cleanup_ctx.append(_relay_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def run_relay() -> None:
    settings = load_settings()
    if not settings.log_signing_key:
        raise SystemExit("CREDLEDGER_LOG_SIGNING_KEY is required: the relay signs the log's checkpoints")
    configure_logging("relay", settings.log_level, settings.log_format)
    web.run_app(create_relay_app(settings), host=settings.host, port=settings.relay_port,
                access_log=None, print=None)
