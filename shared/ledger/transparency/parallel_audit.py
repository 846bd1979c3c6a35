"""`audit verify` across processes: the chain check is CPU-bound in Python
(row decoding and SHA-256), and every range of positions can be checked on
its own because each row stores its predecessor's hash. Ranges are verified
in worker processes and their results combined in position order, so the
first failure reported is the first broken position of the whole log.

The Merkle tree is hashed in the workers too: each returns only its range's
compact range (a few nodes), and the compact ranges of the prefixes ending
at the checkpoint sizes inside it, from which the main process reads each
checkpoint's root (compact_range.py). Sending a million leaf hashes back and
rebuilding the tree in the one main process cost more than the chain check
itself, and left the run's speed to whatever else shared that core.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from shared.db.sql import load_queries
from shared.ledger.eventstore import readers
from shared.ledger.transparency.audit import AuditResult, check_checkpoints, verify_chain
from shared.ledger.transparency.compact_range import Frontier, RangeLevels
from shared.ledger.transparency.merkle import EMPTY_ROOT
from shared.ledger.transparency.signed_note import Verifier

QUERIES = load_queries("shared.ledger.transparency")

RANGE_SIZE = 100_000


@dataclass(frozen=True)
class LogTrust:
    """What checkpoints must be signed by: the log's origin and its keys."""

    origin: str
    keys: tuple[Verifier, ...]


Task = tuple[str, int, int, tuple[int, ...] | None]
Nodes = list[tuple[int, int, bytes]]


class _WorkerConnection:
    """A worker's one connection, kept for every range it checks: a new one
    a range cost the server a fork, and the new backend then faults in every
    shared buffer page it reads (together some 0.2 us a row of the range).
    Closed when the worker exits (the pool is closed, not terminated, once
    every range is checked), so the server sees a clean disconnect."""

    def __init__(self, dsn: str) -> None:
        self.runner = asyncio.Runner()
        self.conn: asyncpg.Connection = self.runner.run(asyncpg.connect(dsn))
        multiprocessing.util.Finalize(self, self.close, exitpriority=0)

    def close(self) -> None:
        self.runner.run(self.conn.close())
        self.runner.close()


_worker: _WorkerConnection | None = None


def _verify_range(task: Task) -> tuple[AuditResult, Nodes, dict[int, Nodes]]:
    """Check positions first..last; with checkpoint sizes (None: no tree), also
    hash the range's tree: its compact range and those of the sizes given."""
    global _worker
    dsn, first, last, sizes = task
    # A worker builds millions of short-lived row tuples and frees them in
    # order; generational collections would only rescan them.
    gc.disable()
    leaves: list[bytes] = []
    if _worker is None:
        _worker = _WorkerConnection(dsn)
    worker = _worker
    result = worker.runner.run(verify_chain(worker.conn, first, last, leaves=leaves if sizes is not None else None))
    if sizes is None or not result.ok:
        return result, [], {}
    levels = RangeLevels(first - 1, leaves)
    return result, levels.compact(last), {size: levels.compact(size) for size in sizes}


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(QUERIES[query])
    finally:
        await conn.close()


async def head_position(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await readers.head_position(conn)
    finally:
        await conn.close()


def stored_log_keys(dsn: str) -> list[str]:
    return [row["vkey"] for row in asyncio.run(_fetch(dsn, "log_keys"))]


def _ranges(dsn: str, first: int, last: int, sizes: list[int] | None) -> Iterator[Task]:
    for start in range(first, last + 1, RANGE_SIZE):
        end = min(start + RANGE_SIZE - 1, last)
        yield dsn, start, end, None if sizes is None else tuple(s for s in sizes if start <= s <= end)


def verify_chain_parallel(
    dsn: str, from_position: int = 1, *, workers: int | None = None,
    progress: Callable[[int], None] | None = None, trust: LogTrust | None = None,
) -> AuditResult:
    """Verify the chain from `from_position`; with `trust` (and from position
    1, since a tree root needs every leaf) also every signed checkpoint."""
    start = max(from_position, 1)
    checkpoints = asyncio.run(_fetch(dsn, "checkpoints")) if trust is not None and start == 1 else []
    last = asyncio.run(head_position(dsn))
    sizes = sorted({row["tree_size"] for row in checkpoints}) if checkpoints else None
    frontier, roots = Frontier(), dict[int, bytes]()
    checked = 0
    # fork: the workers inherit the imported modules instead of re-importing.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers or os.cpu_count() or 1) as pool:
        for result, nodes, prefixes in pool.imap(_verify_range, _ranges(dsn, start, last, sizes)):
            checked += result.checked
            roots.update((size, frontier.root_with(prefix)) for size, prefix in prefixes.items())
            frontier.extend(nodes)
            if progress is not None:
                progress(result.checked)
            if not result.ok:
                pool.terminate()
                return AuditResult(ok=False, from_position=start, checked=checked,
                                   last_position=result.last_position,
                                   first_bad_position=result.first_bad_position, reason=result.reason)
        pool.close()  # the workers exit, closing their connections
        pool.join()
    ok = AuditResult(ok=True, from_position=start, checked=checked, last_position=last)
    return _with_checkpoints(ok, _Roots(last, roots), checkpoints, trust) if checkpoints and trust is not None else ok


class _Roots:
    """The tree as check_checkpoints reads it: its size and the roots at the checkpoint sizes."""

    def __init__(self, size: int, roots: dict[int, bytes]) -> None:
        self._size, self._roots = size, roots

    def __len__(self) -> int:
        return self._size

    def root(self, size: int) -> bytes:
        return self._roots[size] if size else EMPTY_ROOT


def _with_checkpoints(
    result: AuditResult, tree: _Roots, checkpoints: Sequence[asyncpg.Record], trust: LogTrust,
) -> AuditResult:
    rows = [(row["tree_size"], row["signed_note"]) for row in checkpoints]
    broken = check_checkpoints(tree, rows, trust.origin, trust.keys)
    if broken is None:
        return msgspec.structs.replace(result, checkpoints_checked=len(rows))
    return msgspec.structs.replace(
        result, ok=False, checkpoints_checked=sum(size < broken.tree_size for size, _ in rows),
        first_bad_checkpoint=broken.tree_size, reason=broken.reason,
    )
