"""`audit verify` across processes: the chain check is CPU-bound in Python
(row decoding and SHA-256), and every range of positions can be checked on
its own because each row stores its predecessor's hash. Ranges are verified
in worker processes and their results combined in position order, so the
first failure reported is the first broken position of the whole log.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator

import asyncpg

from shared.ledger.audit import AuditResult, verify_chain
from shared.ledger.store import QUERIES

RANGE_SIZE = 100_000


def _verify_range(task: tuple[str, int, int]) -> AuditResult:
    dsn, first, last = task
    # A worker builds millions of short-lived row tuples and frees them in
    # order; generational collections would only rescan them.
    gc.disable()

    async def run() -> AuditResult:
        conn = await asyncpg.connect(dsn)
        try:
            return await verify_chain(conn, first, last)
        finally:
            await conn.close()

    return asyncio.run(run())


async def head_position(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(QUERIES["head_position"])
    finally:
        await conn.close()


def _ranges(dsn: str, first: int, last: int) -> Iterator[tuple[str, int, int]]:
    for start in range(first, last + 1, RANGE_SIZE):
        yield dsn, start, min(start + RANGE_SIZE - 1, last)


def verify_chain_parallel(
    dsn: str, from_position: int = 1, *, workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditResult:
    start = max(from_position, 1)
    last = asyncio.run(head_position(dsn))
    if last < start:
        return AuditResult(ok=True, from_position=start, checked=0, last_position=last)
    checked = 0
    # fork: the workers inherit the imported modules instead of re-importing.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers or os.cpu_count() or 1) as pool:
        for result in pool.imap(_verify_range, _ranges(dsn, start, last)):
            checked += result.checked
            if progress is not None:
                progress(result.checked)
            if not result.ok:
                pool.terminate()
                return AuditResult(ok=False, from_position=start, checked=checked,
                                   last_position=result.last_position,
                                   first_bad_position=result.first_bad_position, reason=result.reason)
    return AuditResult(ok=True, from_position=start, checked=checked, last_position=last)
