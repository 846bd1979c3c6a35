"""Keeping the read model current: one in-memory projection for credentials
and the registry, snapshots in Postgres, and a runner that outlives outages.

Restart: load the newest snapshot (its position is the projection's), then
the runner catches up from the ledger and follows Kafka. Snapshots are taken
every `snapshot_every_events` applied events or `snapshot_every_seconds`
(whichever first, and only if something changed) and on shutdown. They are
taken inside `apply`, while the runner waits, so a snapshot is exactly the
model at its position.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import Counter

from services.verification.batch import BatchVerifier
from services.verification.freshness import Freshness, WatchedLedger
from services.verification.model import ReadModel
from services.verification.snapshot import SnapshotStore
from services.verification.supervision import SupervisedRunner
from shared.events import CATALOG
from shared.jsonld.contexts import ContextLoader
from shared.ledger.delivery.projection import Applied, Projection
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.eventstore.store import Ledger
from shared.service import METRICS_REGISTRY_KEY, POOL_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

PROJECTION_NAME = "verification.read_model"


@dataclass(frozen=True)
class ReadModelOptions:
    snapshot_every_events: int = 200_000
    snapshot_every_seconds: float = 300.0
    max_lag_events: int = 1000
    max_silence_seconds: float = 5.0
    idle_check_interval: float = 0.5
    retry_interval: float = 1.0


MODEL_KEY = web.AppKey("read_model", ReadModel)
VERIFIER_KEY = web.AppKey("batch_verifier", BatchVerifier)
OPTIONS_KEY = web.AppKey("read_model_options", ReadModelOptions)
ITEMS_COUNTER_KEY = web.AppKey("verification_items", Counter)


class VerificationProjection(Projection):
    name = PROJECTION_NAME

    def __init__(self, model: ReadModel, snapshots: SnapshotStore, freshness: Freshness,
                 options: ReadModelOptions) -> None:
        self.model = model
        self.snapshots = snapshots
        self.freshness = freshness
        self.options = options
        self._snapshot_tried = False
        self._snapshot_position = 0
        self._snapshot_time = time.monotonic()

    async def load_applied(self) -> Applied:
        if not self._snapshot_tried and self.model.position == 0:
            await self.snapshots.load_into(self.model)
            self._snapshot_tried = True
            self._snapshot_position = self.model.position
        return Applied(self.model.position, self.model.last_hash)

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        model = self.model
        for recorded in events:
            if recorded.position > model.position:
                model.apply(recorded)
        self.freshness.touch(model.position)
        if self._snapshot_due():
            await self.snapshot()

    def _snapshot_due(self) -> bool:
        pending = self.model.position - self._snapshot_position
        elapsed = time.monotonic() - self._snapshot_time
        return pending >= self.options.snapshot_every_events or (
            pending > 0 and elapsed >= self.options.snapshot_every_seconds)

    async def snapshot(self) -> None:
        if self.model.position == self._snapshot_position:
            return
        # Writing to Postgres is contact with the ledger's database too.
        await self.snapshots.save(self.model, on_chunk=self.freshness.touch)
        self._snapshot_position = self.model.position
        self._snapshot_time = time.monotonic()


async def _freeze_when_caught_up(freshness: Freshness) -> None:
    # Millions of long-lived records would otherwise be rescanned by every
    # full garbage collection, a pause that lands on some request's latency.
    await freshness.caught_up.wait()
    gc.freeze()


async def read_model_ctx(app: web.Application) -> AsyncIterator[None]:
    options = app[OPTIONS_KEY]
    model = app[MODEL_KEY] = ReadModel()
    freshness = Freshness(options.max_lag_events, options.max_silence_seconds)
    loader = ContextLoader(app[SETTINGS_KEY].public_base_url)
    app[VERIFIER_KEY] = BatchVerifier(model, freshness, loader)
    app[ITEMS_COUNTER_KEY] = Counter(
        "verification_items_total", "Items verified, by verdict", ["verdict"], registry=app[METRICS_REGISTRY_KEY])
    projection = VerificationProjection(model, SnapshotStore(app[POOL_KEY]), freshness, options)
    supervised = SupervisedRunner(
        app, projection, WatchedLedger(Ledger(app[POOL_KEY], CATALOG), freshness),
        idle_check_interval=options.idle_check_interval, retry_interval=options.retry_interval)
    freshness.caught_up = supervised.runner.caught_up
    supervised.start()
    freezer = asyncio.create_task(_freeze_when_caught_up(freshness))
    yield
    freezer.cancel()
    await supervised.stop()
    try:
        await projection.snapshot()
    except Exception as exc:  # noqa: BLE001 - a missed snapshot only costs a longer next start
        log.warning("no snapshot on shutdown", extra={"error": repr(exc)})
