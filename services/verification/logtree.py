"""The ledger's Merkle tree held in memory, for answering proofs quickly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from shared.ledger.checkpoints import LogTree
from shared.ledger.events import EventCatalog, RecordedEvent
from shared.ledger.projection import Projection, ProjectionMetrics, ProjectionRunner
from shared.ledger.store import Ledger
from shared.service import METRICS_REGISTRY_KEY, POOL_KEY, SETTINGS_KEY

LOG_TREE_KEY = web.AppKey("log_tree", LogTree)
LEDGER_TOPIC = "ledger"


class LogTreeProjection(Projection):
    name = "verification.log_tree"

    def __init__(self, log_tree: LogTree) -> None:
        self.log_tree = log_tree

    async def load_position(self) -> int:
        return self.log_tree.size

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        self.log_tree.add(events)


async def log_tree_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    log_tree = LogTree()
    app[LOG_TREE_KEY] = log_tree
    runner = ProjectionRunner(
        LogTreeProjection(log_tree),
        Ledger(app[POOL_KEY], EventCatalog()),
        settings.kafka_bootstrap_servers,
        settings.topic(LEDGER_TOPIC),
        # In memory: every replica needs every event and rebuilds on start.
        group_id=None,
        partitions=settings.kafka_partitions,
        metrics=ProjectionMetrics(app[METRICS_REGISTRY_KEY]),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    yield
    stop.set()
    await task
