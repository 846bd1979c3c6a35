"""The ledger's Merkle tree held in memory, for answering proofs quickly."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from shared.ledger.checkpoints import LogTree
from shared.ledger.events import RecordedEvent
from shared.ledger.projection import Projection
from shared.service import projection_context

LOG_TREE_KEY = web.AppKey("log_tree", LogTree)


class LogTreeProjection(Projection):
    name = "verification.log_tree"

    def __init__(self, log_tree: LogTree) -> None:
        self.log_tree = log_tree

    async def load_position(self) -> int:
        return self.log_tree.size

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        self.log_tree.add(events)


def _make_log_tree_projection(app: web.Application) -> Projection:
    app[LOG_TREE_KEY] = LogTree()
    return LogTreeProjection(app[LOG_TREE_KEY])


log_tree_ctx = projection_context(_make_log_tree_projection)
