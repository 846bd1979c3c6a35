"""Keeping the service's background loops running.

`SupervisedRunner` runs the in-memory projections with their own options
(ledger wrapper, polling intervals) and an explicit start and stop, so the
read model can be snapshotted after the runner has stopped. The runner
itself survives database and broker outages (shared/ledger/projection.py);
the projection keeps its state and continues from its own position.

`supervise` keeps a loop such as the job worker alive: an exception out of
it is logged at once and the loop restarted after a growing pause, and
`LoopHealth` tells /readyz whether it is running right now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from shared.events import CATALOG
from shared.ledger.projection import Projection, ProjectionRunner
from shared.ledger.store import Ledger
from shared.lifecycle import sleep_or_stop
from shared.service import LEDGER_TOPIC, POOL_KEY, PROJECTION_METRICS_KEY, RUNNERS_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)


class SupervisedRunner:
    def __init__(self, app: web.Application, projection: Projection, ledger: Ledger | None = None, *,
                 idle_check_interval: float = 1.0, retry_interval: float = 1.0) -> None:
        settings = app[SETTINGS_KEY]
        self.runner = ProjectionRunner(
            projection, ledger or Ledger(app[POOL_KEY], CATALOG), settings.kafka_bootstrap_servers,
            settings.topic(LEDGER_TOPIC), group_id=None, partitions=settings.kafka_partitions,
            metrics=app[PROJECTION_METRICS_KEY], idle_check_interval=idle_check_interval,
            broker_retry_interval=retry_interval,
        )
        app[RUNNERS_KEY].append(self.runner)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _supervise(self) -> None:
        await self.runner.run(self._stop)


@dataclass
class LoopHealth:
    running: bool = False
    restarts: int = 0


@dataclass(frozen=True)
class Backoff:
    first: float = 0.5
    longest: float = 30.0
    # A loop that ran this long before failing starts its backoff afresh.
    steady_after: float = 60.0


async def supervise(name: str, loop: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                    health: LoopHealth, backoff: Backoff = Backoff()) -> None:
    """Run `loop(stop)` until `stop` is set, restarting it whenever it raises."""
    pause = backoff.first
    while not stop.is_set():
        started = time.monotonic()
        health.running = True
        try:
            await loop(stop)
            return
        except Exception:  # noqa: BLE001 - the loop is restarted; what it raised is logged now, not at shutdown
            health.running = False
            health.restarts += 1
            if time.monotonic() - started >= backoff.steady_after:
                pause = backoff.first
            log.exception(f"{name} failed; restarting", extra={"restart_in_seconds": pause,
                                                               "restarts": health.restarts})
            await sleep_or_stop(stop, pause)
            pause = min(pause * 2, backoff.longest)
        finally:
            health.running = False

