"""Signed Merkle checkpoints over the ledger (RFC 9162 trees, C2SP notes).

Leaf i of the log is the v2 leaf of position i+1 (shared/ledger/transparency/leaf.py): a
commitment to the entry through its chain hash, without its payload, so the
tree can be public while credentials are not; any standard RFC 9162 verifier
checks proofs over it. Checkpoints are
created by one process at a time (an advisory lock), every N events or T
seconds, and stored append-only beside the ledger. A ledger the tree cannot
take (a position out of order) halts the checkpointer for good: signing
around it would certify a log that is not the ledger.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry, Gauge

from shared.db.sql import load_queries
from shared.ledger.eventstore import readers
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.transparency.leaf import event_leaf_hash
from shared.ledger.transparency.merkle import MerkleTree
from shared.ledger.transparency.signed_note import Checkpoint, sign_note, vkey_for
from shared.lifecycle import sleep_or_stop

QUERIES = load_queries("shared.ledger.transparency")

log = logging.getLogger(__name__)

CHECKPOINTER_LOCK_KEY = 0x6372_6564_6C64_0003
_READ_BATCH = 20_000


class LogCannotExtend(ValueError):
    """The next ledger row is not the next leaf of the log."""


class LogSigner:
    def __init__(self, origin: str, seed_b64: str) -> None:
        seed = base64.b64decode(seed_b64, validate=True)
        if len(seed) != 32:
            raise ValueError("the log signing key must be a base64 32-byte Ed25519 seed")
        self.origin = origin
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.vkey = vkey_for(origin, self._key.public_key())

    def sign(self, checkpoint: Checkpoint) -> str:
        return sign_note(checkpoint.to_body(), self.origin, self._key)

    def sign_tree(self, log_tree: LogTree) -> str:
        return self.sign(Checkpoint(self.origin, log_tree.size, log_tree.tree.root()))


class LogTree:
    """The ledger's Merkle tree in memory; its size is the last position added."""

    def __init__(self) -> None:
        self.tree = MerkleTree()

    @property
    def size(self) -> int:
        return len(self.tree)

    def add(self, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.position != self.size + 1:
                raise LogCannotExtend(f"log tree at size {self.size} cannot take position {event.position}")
            self.tree.append(event_leaf_hash(event))

    async def catch_up(self, conn: asyncpg.Connection) -> None:
        while events := await readers.read_from(conn, start := self.size, _READ_BATCH):
            # The first rows of this read may have been taken meanwhile from
            # another read of the same rows (take_continuing); the rest must
            # continue the tree, or the ledger is at fault.
            self.add(events[self.size - start:])

    def take_continuing(self, events: Sequence[RecordedEvent]) -> int:
        """Add those of `events` (a read of the ledger in position order)
        that continue the tree, up to the first that does not; how many. The
        rest is left to `catch_up`, whose own read decides whether the ledger
        is at fault (and halts the checkpointer) or this read merely overlapped."""
        before = self.size
        for event in events:
            if event.position == self.size + 1:
                self.tree.append(event_leaf_hash(event))
            elif event.position > self.size:
                break
        return self.size - before


class CheckpointerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.halted = Gauge("credledger_checkpointer_halted", "1 once the checkpointer stopped: the log cannot"
                            " be extended with the ledger's next row", ["reason"], registry=registry)


class Checkpointer:
    def __init__(
        self, dsn: str, signer: LogSigner, *, every_events: int = 1000,
        every_seconds: float = 10.0, poll_interval: float = 0.5, metrics: CheckpointerMetrics | None = None,
    ) -> None:
        self._dsn = dsn
        self._signer = signer
        self._every_events = every_events
        self._every_seconds = every_seconds
        self._poll_interval = poll_interval
        self._metrics = metrics or CheckpointerMetrics(CollectorRegistry())
        self._log = LogTree()
        # Why checkpointing stopped for good, or None while it runs.
        self.halted: str | None = None
        self._leading = False
        # Whether offers grew the tree since the loop last read the ledger.
        self._fed = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._run_while_leader(stop)
            except LogCannotExtend as exc:
                # Retrying cannot help: the ledger row stays where it is. The
                # loop stays here, halted, until the process stops.
                self._halt(str(exc))
                await stop.wait()
                return
            except Exception as exc:  # noqa: BLE001 - must outlive any outage
                log.warning("checkpointer interrupted, retrying", extra={"error": repr(exc)})
                await sleep_or_stop(stop, self._poll_interval)

    def _halt(self, why: str) -> None:
        self.halted = f"checkpointing stopped: {why}; the ledger needs an audit (credledger audit verify)"
        self._metrics.halted.labels("log_cannot_extend").set(1)
        log.error("checkpointer halted: %s", why, extra={"reason": "log_cannot_extend", "tree_size": self._log.size})

    async def _run_while_leader(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            while not await conn.fetchval(QUERIES["try_advisory_lock"], CHECKPOINTER_LOCK_KEY):
                if stop.is_set():
                    return
                await sleep_or_stop(stop, 1.0)
            await conn.execute(
                QUERIES["register_log_key"], self._signer.vkey
            )
            last_size = await conn.fetchval(QUERIES["last_checkpoint_size"])
            last_time = time.monotonic()
            self._leading, self._fed = True, False
            while not stop.is_set():
                # While the relay's reads keep the tree growing, reading the
                # same rows again would only have Postgres send them twice;
                # once they stop (the relay is idle, elsewhere, or its rows
                # no longer continue the tree), the checkpointer reads itself.
                if not self._fed:
                    await self._log.catch_up(conn)
                self._fed = False
                pending = self._log.size - last_size
                due = time.monotonic() - last_time >= self._every_seconds
                if pending >= self._every_events or (pending > 0 and due):
                    # The size signed: offers may grow the tree while it is stored.
                    last_size, last_time = (await self.publish(conn)).size, time.monotonic()
                await sleep_or_stop(stop, self._poll_interval)
        finally:
            self._leading = False
            await conn.close()

    def offer(self, events: Sequence[RecordedEvent]) -> None:
        """Ledger rows another reader of this process has just read (the
        relay, which reads every row in order too): taken into the tree when
        they continue it, so the checkpointer need not have Postgres send
        each payload a second time. Only while leading: a checkpointer that
        is not keeps no tree worth hashing for."""
        if self._leading and self.halted is None and self._log.take_continuing(events):
            self._fed = True

    async def publish(self, conn: asyncpg.Connection) -> Checkpoint:
        checkpoint = Checkpoint(self._signer.origin, self._log.size, self._log.tree.root())
        await conn.execute(
            QUERIES["insert_checkpoint"],
            checkpoint.size, checkpoint.root_hash, self._signer.sign(checkpoint),
        )
        log.info("checkpoint published", extra={"tree_size": checkpoint.size})
        return checkpoint
