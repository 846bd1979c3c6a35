"""`credledger audit verify`: recompute the hash chain from the database."""

from __future__ import annotations

import asyncio
import sys

from tqdm import tqdm

from shared.ledger.parallel_audit import head_position, verify_chain_parallel


def audit_verify(database_url: str, from_position: int, workers: int | None = None) -> int:
    total = max(asyncio.run(head_position(database_url)) - max(from_position, 1) + 1, 0)
    with tqdm(total=total, unit="ev", unit_scale=True, disable=not sys.stderr.isatty(),
              desc="verifying", file=sys.stderr) as bar:
        result = verify_chain_parallel(database_url, from_position, workers=workers, progress=bar.update)
    if result.ok:
        print(f"ok: positions {result.from_position}..{result.last_position} verified "
              f"({result.checked} events)")
        return 0
    print(f"FAILED at position {result.first_bad_position}: {result.reason} "
          f"({result.checked} events verified before it)")
    return 1
