"""The ledger's Merkle tree held in memory, for answering proofs quickly.

Its leaf hashes are saved on shutdown (and every `SNAPSHOT_EVERY` leaves),
so a restart rebuilds the tree from 32 bytes per entry instead of reading
and hashing every ledger entry again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import asyncpg
from aiohttp import web

from services.verification.supervision import SupervisedRunner
from shared.db.sql import load_queries
from shared.ledger.delivery.projection import Applied, Projection
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.transparency.checkpoints import LogTree
from shared.ledger.transparency.merkle import HASH_SIZE, MerkleTree
from shared.service import POOL_KEY

QUERIES = load_queries("services.verification")

log = logging.getLogger(__name__)

LOG_TREE_KEY = web.AppKey("log_tree", LogTree)
SNAPSHOT_EVERY = 200_000


class LogTreeProjection(Projection):
    name = "verification.log_tree"

    def __init__(self, log_tree: LogTree, pool: asyncpg.Pool) -> None:
        self.log_tree = log_tree
        self._pool = pool
        self._saved = -1
        # The chain hash of the tree's last leaf's position.
        self._last_hash: bytes | None = None

    async def load_applied(self) -> Applied:
        if self._saved < 0:
            row = await self._pool.fetchrow(
                QUERIES["latest_log_tree_snapshot"])
            if row is not None and self.log_tree.size == 0:
                leaves = row["leaves"]
                self.log_tree.tree = MerkleTree(leaves[i:i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE))
                self._last_hash = row["last_hash"]
            self._saved = self.log_tree.size
        return Applied(self.log_tree.size, self._last_hash)

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        self.log_tree.add(events)
        self._last_hash = events[-1].hash
        if self.log_tree.size - self._saved >= SNAPSHOT_EVERY:
            await self.save()

    async def save(self) -> None:
        size = self.log_tree.size
        if size <= max(self._saved, 0):
            return
        tree = self.log_tree.tree
        leaves = b"".join(tree.leaf(i) for i in range(size))
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(QUERIES["save_log_tree_snapshot"], size, leaves, self._last_hash)
            await conn.execute(QUERIES["prune_log_tree_snapshots"], size)
        self._saved = size


async def log_tree_ctx(app: web.Application) -> AsyncIterator[None]:
    app[LOG_TREE_KEY] = LogTree()
    projection = LogTreeProjection(app[LOG_TREE_KEY], app[POOL_KEY])
    supervised = SupervisedRunner(app, projection)
    supervised.start()
    yield
    await supervised.stop()
    try:
        await projection.save()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("log tree not saved; the next start replays the ledger", extra={"error": repr(exc)})
