"""`audit verify` across processes: the chain check is CPU-bound in Python
(row decoding and SHA-256), and every range of positions can be checked on
its own because each row stores its predecessor's hash. Ranges are verified
in worker processes and their results combined in position order, so the
first failure reported is the first broken position of the whole log. The
workers also return their ranges' Merkle leaf hashes, from which the main
process rebuilds the tree and checks every signed checkpoint against it.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from dataclasses import dataclass
from collections.abc import Callable, Iterator, Sequence

import asyncpg
import msgspec

from shared.db.sql import load_queries
from shared.ledger.eventstore import readers
from shared.ledger.transparency.audit import AuditResult, check_checkpoints, verify_chain
from shared.ledger.transparency.merkle import MerkleTree
from shared.ledger.transparency.signed_note import Verifier

QUERIES = load_queries("shared.ledger.transparency")

RANGE_SIZE = 100_000


@dataclass(frozen=True)
class LogTrust:
    """What checkpoints must be signed by: the log's origin and its keys."""

    origin: str
    keys: tuple[Verifier, ...]


def _verify_range(task: tuple[str, int, int, bool]) -> tuple[AuditResult, list[bytes]]:
    dsn, first, last, with_leaves = task
    # A worker builds millions of short-lived row tuples and frees them in
    # order; generational collections would only rescan them.
    gc.disable()
    leaves: list[bytes] = []

    async def run() -> AuditResult:
        conn = await asyncpg.connect(dsn)
        try:
            return await verify_chain(conn, first, last, leaves=leaves if with_leaves else None)
        finally:
            await conn.close()

    return asyncio.run(run()), leaves


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


def _ranges(dsn: str, first: int, last: int, with_leaves: bool) -> Iterator[tuple[str, int, int, bool]]:
    for start in range(first, last + 1, RANGE_SIZE):
        yield dsn, start, min(start + RANGE_SIZE - 1, last), with_leaves


def verify_chain_parallel(
    dsn: str, from_position: int = 1, *, workers: int | None = None,
    progress: Callable[[int], None] | None = None, trust: LogTrust | None = None,
) -> AuditResult:
    """Verify the chain from `from_position`; with `trust` (and from position
    1, since a tree root needs every leaf) also every signed checkpoint."""
    start = max(from_position, 1)
    checkpoints = asyncio.run(_fetch(dsn, "checkpoints")) if trust is not None and start == 1 else []
    last = asyncio.run(head_position(dsn))
    tree = MerkleTree()
    checked = 0
    # fork: the workers inherit the imported modules instead of re-importing.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers or os.cpu_count() or 1) as pool:
        for result, leaves in pool.imap(_verify_range, _ranges(dsn, start, last, bool(checkpoints))):
            checked += result.checked
            tree.extend(leaves)
            if progress is not None:
                progress(result.checked)
            if not result.ok:
                pool.terminate()
                return AuditResult(ok=False, from_position=start, checked=checked,
                                   last_position=result.last_position,
                                   first_bad_position=result.first_bad_position, reason=result.reason)
    ok = AuditResult(ok=True, from_position=start, checked=checked, last_position=last)
    return _with_checkpoints(ok, tree, checkpoints, trust) if checkpoints and trust is not None else ok


def _with_checkpoints(
    result: AuditResult, tree: MerkleTree, checkpoints: Sequence[asyncpg.Record], trust: LogTrust,
) -> AuditResult:
    rows = [(row["tree_size"], row["signed_note"]) for row in checkpoints]
    broken = check_checkpoints(tree, rows, trust.origin, trust.keys)
    if broken is None:
        return msgspec.structs.replace(result, checkpoints_checked=len(rows))
    return msgspec.structs.replace(
        result, ok=False, checkpoints_checked=sum(size < broken.tree_size for size, _ in rows),
        first_bad_checkpoint=broken.tree_size, reason=broken.reason,
    )
