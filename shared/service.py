"""The application factory every service builds on.

It wires what all four services share: settings, a Postgres pool, the
authenticator, a broker probe, metrics, the problem+json boundary and the
operational routes (/healthz, /readyz, /metrics, /openapi.json). Resources
are opened and closed in `cleanup_ctx` generators, in order, so a failed
start unwinds what was already opened and nothing lives in module globals.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.auth import Authenticator
from shared.background import BackgroundLoop, LoopBody, running
from shared.bus import KafkaAuth
from shared.db.pool import create_pool, database_reachable
from shared.events import CATALOG
from shared.http.body import json_response
from shared.http.endpoints import AUTHENTICATOR_KEY, BODY_LIMIT_KEY, Endpoint, add_endpoints
from shared.http.middleware import (
    Handler,
    clean_input_middleware,
    make_observability_middleware,
    problem_middleware,
)
from shared.http.openapi import build_openapi
from shared.http.problem import unavailable
from shared.ledger.delivery.projection import Projection, ProjectionMetrics, ProjectionRunner
from shared.ledger.eventstore.store import Ledger
from shared.logs import configure_logging
from shared.metrics import HttpMetrics
from shared.settings import Settings, load_settings

SETTINGS_KEY = web.AppKey("settings", Settings)
POOL_KEY = web.AppKey("pool", asyncpg.Pool)
METRICS_REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
BROKER_KEY: web.AppKey[BrokerProbe] = web.AppKey("broker")
PROJECTION_METRICS_KEY = web.AppKey("projection_metrics", ProjectionMetrics)
OPENAPI_KEY = web.AppKey("openapi", dict)
RUNNERS_KEY = web.AppKey("projection_runners", list)
LOOPS_KEY = web.AppKey("background_loops", list)
# Further readiness conditions of a service (name -> is it met now?).
READY_CHECKS_KEY = web.AppKey("ready_checks", dict[str, Callable[[], bool]])
LEDGER_TOPIC = "ledger"

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
VERSION = "0.1.0"
OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
# How long a request waits for the read models before it is answered 503:
# long enough to hide a restart's catch-up, short enough that a client's
# retry loop (not a held connection) deals with a longer outage.
GATE_WAIT_SECONDS = 2.0


class BrokerProbe:
    """Answers 'is the broker reachable?' without holding up startup."""

    def __init__(self, bootstrap: str, auth: KafkaAuth) -> None:
        self._client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **auth.client_options())
        self._bootstrapped = False

    async def reachable(self, timeout: float = 2.0) -> bool:
        try:
            if not self._bootstrapped:
                await asyncio.wait_for(self._client.bootstrap(), timeout)
                self._bootstrapped = True
                return True
            await asyncio.wait_for(self._client.fetch_all_metadata(), timeout)
            return True
        except (KafkaError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        await self._client.close()


async def _postgres_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    app[POOL_KEY] = pool
    app[AUTHENTICATOR_KEY] = Authenticator(pool, settings.bootstrap_admin_key)
    yield
    await pool.close()


async def _broker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    probe = BrokerProbe(settings.kafka_bootstrap_servers, KafkaAuth.of(settings))
    app[BROKER_KEY] = probe
    await probe.reachable(timeout=5.0)
    yield
    await probe.close()


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


def readiness(checks: dict[str, bool], reasons: dict[str, str]) -> web.Response:
    """200 when every check passes, else 503; `reasons` says why a check failed."""
    ready = all(checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if reasons:
        body["reasons"] = reasons
    return json_response(body, status=200 if ready else 503)


def read_models_checks(app: web.Application) -> dict[str, bool]:
    # A read model still replaying the ledger would answer from old state.
    return {f"projection:{runner.projection.name}": runner.caught_up.is_set() for runner in app[RUNNERS_KEY]}


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks = {
        "postgres": await database_reachable(app[POOL_KEY]),
        "broker": await app[BROKER_KEY].reachable(),
        **read_models_checks(app),
        **{name: check() for name, check in app[READY_CHECKS_KEY].items()},
    }
    reasons: dict[str, str] = {}
    for runner in app[RUNNERS_KEY]:
        name = f"projection:{runner.projection.name}"
        degraded = runner.degraded
        checks[name] = checks[name] and degraded is None
        if degraded is not None:
            reasons[name] = degraded
    for loop in app[LOOPS_KEY]:
        if loop.affects_readiness:
            checks[f"loop:{loop.name}"] = loop.healthy
            if not loop.healthy and loop.last_error:
                reasons[f"loop:{loop.name}"] = loop.last_error
    return readiness(checks, reasons)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_REGISTRY_KEY])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI_KEY])


def background_context(
    name: str, body: Callable[[web.Application], LoopBody], *, affects_readiness: bool = True
) -> CleanupContext:
    """A cleanup context that runs `body(app)` as a supervised background loop
    (shared/background.py) for as long as the app runs, reported by /readyz."""

    async def run_loop(app: web.Application) -> AsyncIterator[None]:
        loop = BackgroundLoop(name, body(app), affects_readiness=affects_readiness)
        app[LOOPS_KEY].append(loop)
        async with running(loop):
            yield

    return run_loop


def projection_context(
    make: Callable[[web.Application], Projection], *, group_id: str | None = None
) -> CleanupContext:
    """A cleanup context that keeps a projection current while the app runs.

    `group_id=None` suits in-memory projections (every replica reads every
    event); durable ones pass a consumer group shared by their replicas. The
    group is namespaced like the topics, so deployments (and tests) sharing
    a cluster never join each other's groups.
    """

    async def run_projection(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS_KEY]
        runner = ProjectionRunner(
            make(app), Ledger(app[POOL_KEY], CATALOG), settings.kafka_bootstrap_servers,
            settings.topic(LEDGER_TOPIC), group_id=settings.topic(group_id) if group_id else None,
            partitions=settings.kafka_partitions,
            metrics=app[PROJECTION_METRICS_KEY], auth=KafkaAuth.of(settings),
        )
        app[RUNNERS_KEY].append(runner)
        # Its readiness is `caught_up` (above), not the loop's own health.
        async with running(BackgroundLoop(f"projection:{runner.projection.name}", runner.run)):
            yield

    return run_projection


async def _read_models_caught_up(app: web.Application, timeout: float) -> bool:
    waiting = [runner.caught_up.wait() for runner in app[RUNNERS_KEY] if not runner.caught_up.is_set()]
    if not waiting:
        return True
    try:
        await asyncio.wait_for(asyncio.gather(*waiting), timeout)
    except TimeoutError:
        return False
    return True


@web.middleware
async def readiness_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Business routes wait briefly for the read models /readyz reports on,
    then answer 503: an answer decided from a read model that has not caught
    up (after a restart, during a database outage) could refuse what the
    ledger allows. The operational routes stay open for probes."""
    if request.path in OPERATIONAL_PATHS or await _read_models_caught_up(request.app, GATE_WAIT_SECONDS):
        return await handler(request)
    behind = ", ".join(name for name, ok in read_models_checks(request.app).items() if not ok)
    raise unavailable(f"the service is catching up with the ledger ({behind}); retry shortly")


def create_service_app(
    settings: Settings,
    service: str,
    endpoints: Sequence[Endpoint],
    contexts: Sequence[CleanupContext] = (),
) -> web.Application:
    registry = CollectorRegistry()
    app = web.Application(
        middlewares=[make_observability_middleware(HttpMetrics(registry, service)), problem_middleware,
                     clean_input_middleware, readiness_gate],
        # Bodies are read through shared/http/body.py with per-route limits;
        # this is only the outer bound for the largest (bulk) routes.
        client_max_size=settings.max_bulk_body_bytes,
    )
    app[SETTINGS_KEY] = settings
    app[METRICS_REGISTRY_KEY] = registry
    app[BODY_LIMIT_KEY] = settings.max_body_bytes
    app[OPENAPI_KEY] = build_openapi(f"credledger {service}", VERSION, endpoints)
    app[RUNNERS_KEY] = []
    app[LOOPS_KEY] = []
    app[READY_CHECKS_KEY] = {}
    app[PROJECTION_METRICS_KEY] = ProjectionMetrics(registry)
    app.cleanup_ctx.append(_postgres_ctx)
    app.cleanup_ctx.append(_broker_ctx)
    app.cleanup_ctx.extend(contexts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    add_endpoints(app, endpoints)
    return app


def serve(service: str, factory: Callable[[Settings], web.Application]) -> None:
    """Entry point of `python -m services.<name>` and `credledger serve <name>`."""
    settings = load_settings()
    configure_logging(service, settings.log_level, settings.log_format)
    web.run_app(
        factory(settings), host=settings.host, port=settings.port_of(service),  # type: ignore[arg-type]
        access_log=None, print=None, handler_cancellation=True,
    )
