"""The revocation service's long-lived parts and their start/stop order:
the in-memory registry state, the credentials read model (which runs the
cascades), the status list publisher and idempotency-key housekeeping."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.revocation.metrics import RevocationMetrics
from services.revocation.projection import PROJECTION_NAME, CredentialsProjection
from services.revocation.status_changes import QUERIES, StatusChanger
from services.revocation.status_lists import StatusListPublisher
from shared.events import CATALOG
from shared.idempotency import purge_loop
from shared.ledger.eventstore.store import Ledger
from shared.registry_state import RegistryProjection, RegistryState
from shared.service import (
    METRICS_REGISTRY_KEY,
    POOL_KEY,
    READY_CHECKS_KEY,
    RUNNERS_KEY,
    SETTINGS_KEY,
    CleanupContext,
    background_context,
    projection_context,
)
from shared.settings import Settings

REGISTRY_KEY = web.AppKey("revocation_registry", RegistryProjection)
CHANGER_KEY = web.AppKey("status_changer", StatusChanger)
PUBLISHER_KEY = web.AppKey("status_list_publisher", StatusListPublisher)
METRICS_KEY = web.AppKey("revocation_metrics", RevocationMetrics)


async def _parts_ctx(app: web.Application) -> AsyncIterator[None]:
    pool, settings = app[POOL_KEY], app[SETTINGS_KEY]
    app[REGISTRY_KEY] = RegistryProjection(RegistryState(), "revocation.registry")
    metrics = app[METRICS_KEY] = RevocationMetrics(app[METRICS_REGISTRY_KEY])
    app[CHANGER_KEY] = StatusChanger(Ledger(pool, CATALOG))
    publisher = app[PUBLISHER_KEY] = StatusListPublisher(
        pool, app[REGISTRY_KEY], settings.master_key, settings.public_base_url, metrics,
        sources_caught_up=lambda: all(runner.caught_up.is_set() for runner in app[RUNNERS_KEY]))
    app[READY_CHECKS_KEY]["status_lists_current"] = lambda: publisher.ready
    yield


def _credentials_projection(app: web.Application) -> CredentialsProjection:
    return CredentialsProjection(
        app[POOL_KEY], app[REGISTRY_KEY], app[CHANGER_KEY], app[METRICS_KEY],
        on_lists_changed=app[PUBLISHER_KEY].wake.set,
    )


def contexts(settings: Settings) -> list[CleanupContext]:
    return [
        _parts_ctx,
        projection_context(lambda app: app[REGISTRY_KEY]),
        # Namespaced like the topics: deployments (and test runs) sharing a
        # broker must not share a consumer group, or each start waits for
        # the other deployment's members to time out.
        projection_context(_credentials_projection, group_id=PROJECTION_NAME),
        background_context("status-list-publisher", lambda app: app[PUBLISHER_KEY].run),
        background_context("idempotency-purge",
                           lambda app: purge_loop(app[POOL_KEY], QUERIES["purge_idempotency_keys"]),
                           affects_readiness=False),
    ]
