"""The revocation service's long-lived parts and their start/stop order:
the in-memory registry state, the credentials read model (which runs the
cascades), the status list publisher and idempotency-key housekeeping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import partial

import asyncpg
from aiohttp import web

from services.revocation.idempotency import purge_expired
from services.revocation.metrics import RevocationMetrics
from services.revocation.projection import PROJECTION_NAME, CredentialsProjection
from services.revocation.status_changes import StatusChanger
from services.revocation.status_lists import StatusListPublisher
from shared.events import CATALOG
from shared.ledger.eventstore.store import Ledger
from shared.lifecycle import sleep_or_stop
from shared.registry_state import RegistryProjection, RegistryState
from shared.service import (
    METRICS_REGISTRY_KEY, POOL_KEY, SETTINGS_KEY, CleanupContext, background_context, projection_context,
)
from shared.settings import Settings

log = logging.getLogger(__name__)

REGISTRY_KEY = web.AppKey("revocation_registry", RegistryProjection)
CHANGER_KEY = web.AppKey("status_changer", StatusChanger)
PUBLISHER_KEY = web.AppKey("status_list_publisher", StatusListPublisher)
METRICS_KEY = web.AppKey("revocation_metrics", RevocationMetrics)
HOUSEKEEPING_INTERVAL = 600.0


async def _parts_ctx(app: web.Application) -> AsyncIterator[None]:
    pool, settings = app[POOL_KEY], app[SETTINGS_KEY]
    app[REGISTRY_KEY] = RegistryProjection(RegistryState(), "revocation.registry")
    metrics = app[METRICS_KEY] = RevocationMetrics(app[METRICS_REGISTRY_KEY])
    app[CHANGER_KEY] = StatusChanger(Ledger(pool, CATALOG))
    app[PUBLISHER_KEY] = StatusListPublisher(
        pool, app[REGISTRY_KEY], settings.master_key, settings.public_base_url, metrics)
    yield


def _credentials_projection(app: web.Application) -> CredentialsProjection:
    return CredentialsProjection(
        app[POOL_KEY], app[REGISTRY_KEY], app[CHANGER_KEY], app[METRICS_KEY],
        on_lists_changed=app[PUBLISHER_KEY].wake.set,
    )


async def _housekeeping(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            log.info("expired idempotency keys purged", extra={"result": await purge_expired(pool)})
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("idempotency key purge failed", extra={"error": repr(exc)})
        await sleep_or_stop(stop, HOUSEKEEPING_INTERVAL)


def contexts(settings: Settings) -> list[CleanupContext]:
    return [
        _parts_ctx,
        projection_context(lambda app: app[REGISTRY_KEY]),
        # Namespaced like the topics: deployments (and test runs) sharing a
        # broker must not share a consumer group, or each start waits for
        # the other deployment's members to time out.
        projection_context(_credentials_projection, group_id=PROJECTION_NAME),
        background_context("status-list-publisher", lambda app: app[PUBLISHER_KEY].run),
        background_context("idempotency-purge", lambda app: partial(_housekeeping, app[POOL_KEY]),
                           affects_readiness=False),
    ]
