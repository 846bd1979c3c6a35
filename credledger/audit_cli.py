"""`credledger audit verify`: recompute the hash chain from the database."""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from tqdm import tqdm

from shared.ledger.audit import AuditResult, verify_chain


async def _verify(database_url: str, from_position: int, show_progress: bool) -> AuditResult:
    conn = await asyncpg.connect(database_url)
    try:
        head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM ledger.events")
        total = max(head - max(from_position, 1) + 1, 0)
        with tqdm(total=total, unit="ev", unit_scale=True, disable=not show_progress,
                  desc="verifying", file=sys.stderr) as bar:
            return await verify_chain(conn, from_position, progress=bar.update)
    finally:
        await conn.close()


def audit_verify(database_url: str, from_position: int) -> int:
    result = asyncio.run(_verify(database_url, from_position, sys.stderr.isatty()))
    if result.ok:
        print(f"ok: positions {result.from_position}..{result.last_position} verified "
              f"({result.checked} events)")
        return 0
    print(f"FAILED at position {result.first_bad_position}: {result.reason} "
          f"({result.checked} events verified before it)")
    return 1
