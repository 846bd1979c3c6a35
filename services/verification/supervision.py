"""Keeping the service's background loops running.

`SupervisedRunner` runs the in-memory projections with their own options
(ledger wrapper, polling intervals) and an explicit start and stop, so the
read model can be snapshotted after the runner has stopped. The runner
itself survives database and broker outages (shared/ledger/delivery/projection.py);
the projection keeps its state and continues from its own position.

The runner's loop is a `shared.background.BackgroundLoop`: an exception out
of it is logged at once and the loop restarted after a growing pause.
"""

from __future__ import annotations

from aiohttp import web

from shared.background import BackgroundLoop
from shared.bus import KafkaAuth
from shared.events import CATALOG
from shared.ledger.delivery.projection import Projection, ProjectionRunner
from shared.ledger.eventstore.store import Ledger
from shared.service import LEDGER_TOPIC, POOL_KEY, PROJECTION_METRICS_KEY, RUNNERS_KEY, SETTINGS_KEY


class SupervisedRunner:
    def __init__(self, app: web.Application, projection: Projection, ledger: Ledger | None = None, *,
                 idle_check_interval: float = 1.0, retry_interval: float = 1.0) -> None:
        settings = app[SETTINGS_KEY]
        self.runner = ProjectionRunner(
            projection, ledger or Ledger(app[POOL_KEY], CATALOG), settings.kafka_bootstrap_servers,
            settings.topic(LEDGER_TOPIC), group_id=None, partitions=settings.kafka_partitions,
            metrics=app[PROJECTION_METRICS_KEY], idle_check_interval=idle_check_interval,
            broker_retry_interval=retry_interval, auth=KafkaAuth.of(settings),
        )
        app[RUNNERS_KEY].append(self.runner)
        self._loop = BackgroundLoop(f"projection:{projection.name}", self.runner.run)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
