"""Re-verifying the hash chain: what an auditor runs against the ledger.

Each row stores its predecessor's hash, so every row can be checked on its
own (hash == SHA-256(prev_hash || entry)) and the links between neighbours
checked separately (prev_hash == hash of the row before, positions gap-free).
That makes verification a single sequential scan with no state beyond the
previous row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import asyncpg
import msgspec

from shared.ledger.chain import GENESIS_HASH, entry_bytes
from shared.ledger.store import QUERIES

_CHUNK = 20_000
_SCAN = """
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE position > $1 AND position <= least($1 + $3, $2)
 ORDER BY position
"""


class AuditResult(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    from_position: int
    checked: int
    last_position: int
    first_bad_position: int | None = None
    reason: str = ""


async def verify_chain(
    conn: asyncpg.Connection,
    from_position: int = 1,
    to_position: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditResult:
    """Verify positions from `from_position` (default: the whole log)."""
    start = max(from_position, 1)
    expected_prev = GENESIS_HASH
    if start > 1:
        expected_prev = await conn.fetchval("SELECT hash FROM ledger.events WHERE position = $1", start - 1)
        if expected_prev is None:
            return AuditResult(ok=False, from_position=start, checked=0, last_position=start - 1,
                               first_bad_position=start - 1, reason="missing position")
    if to_position is None:
        to_position = await conn.fetchval(QUERIES["head_position"])
    position, checked = start - 1, 0
    sha256 = hashlib.sha256
    while True:
        if position >= to_position:
            break
        rows = await conn.fetch(_SCAN, position, to_position, _CHUNK)
        if not rows:
            return AuditResult(ok=False, from_position=start, checked=checked, last_position=position,
                               first_bad_position=position + 1, reason=f"gap: position {position + 1} is missing")
        for pos, stream, version, etype, payload, meta, prev, digest in rows:
            reason = ""
            if pos != position + 1:
                reason = f"gap: position {position + 1} is missing"
                pos = position + 1
            elif prev != expected_prev:
                reason = "predecessor link broken: prev_hash differs from the previous entry's hash"
            elif sha256(prev + entry_bytes(pos, stream, version, etype, payload, meta)).digest() != digest:
                reason = "hash mismatch: the entry's content does not match its hash"
            if reason:
                return AuditResult(ok=False, from_position=start, checked=checked,
                                   last_position=position, first_bad_position=pos, reason=reason)
            position, expected_prev = pos, digest
            checked += 1
        if progress is not None:
            progress(len(rows))
    return AuditResult(ok=True, from_position=start, checked=checked, last_position=position)
