"""Re-verifying the hash chain: what an auditor runs against the ledger.

Each row stores its predecessor's hash, so every row can be checked on its
own (hash == SHA-256(prev_hash || entry)) and the links between neighbours
checked separately (prev_hash == hash of the row before, positions gap-free).
That makes verification a single sequential scan with no state beyond the
previous row (read as binary COPY chunks checked in place, copy_rows.py;
as Records only from a row that reader cannot confirm). The same scan can
yield the Merkle leaf hashes, so the signed checkpoints are checked against
the tree recomputed from the rows: a rewrite that recomputed every later
chain hash passes the chain but not a checkpoint signed before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

import asyncpg
import msgspec

from shared.db.sql import load_queries
from shared.ledger.eventstore import readers
from shared.ledger.eventstore.chain import GENESIS_HASH, encoded_entry_bytes
from shared.ledger.transparency.copy_rows import RowsChecked, checked_chunk
from shared.ledger.transparency.leaf import encoded_leaf_bytes
from shared.ledger.transparency.merkle import leaf_hash
from shared.ledger.transparency.signed_note import Checkpoint, NoteError, Verifier, verify_checkpoint

QUERIES = load_queries("shared.ledger.transparency")
_CHUNK = 20_000
# What leaf.py raises for metadata or a payload that is not the ledger's JSON.
_UNREADABLE = (msgspec.DecodeError, msgspec.ValidationError)


class AuditResult(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    from_position: int
    checked: int
    last_position: int
    first_bad_position: int | None = None
    reason: str = ""
    checkpoints_checked: int = 0
    first_bad_checkpoint: int | None = None  # its tree size


class CheckpointBreak(msgspec.Struct, frozen=True):
    tree_size: int
    reason: str


async def verify_chain(
    conn: asyncpg.Connection,
    from_position: int = 1,
    to_position: int | None = None,
    progress: Callable[[int], None] | None = None,
    leaves: list[bytes] | None = None,
) -> AuditResult:
    """Verify positions from `from_position` (default: the whole log); with
    `leaves`, also append each verified row's Merkle leaf hash to it."""
    start = max(from_position, 1)
    expected_prev = GENESIS_HASH
    if start > 1:
        stored = await readers.hash_at(conn, start - 1)
        if stored is None:
            return AuditResult(ok=False, from_position=start, checked=0, last_position=start - 1,
                               first_bad_position=start - 1, reason="missing position")
        expected_prev = stored
    if to_position is None:
        to_position = await readers.head_position(conn)
    position, checked = start - 1, 0
    while position < to_position:
        limit = min(_CHUNK, to_position - position)
        mark = 0 if leaves is None else len(leaves)
        try:
            done = await checked_chunk(conn, QUERIES["audit_copy"], position, limit, expected_prev, leaves)
        except _UNREADABLE:
            # A row whose leaf cannot be built (an owner's edit that rehashed
            # the chain): the Record reader checks the chunk again from its
            # start and names that row, so its leaves so far are dropped.
            if leaves is not None:
                del leaves[mark:]
            done = RowsChecked(position, expected_prev, 0, False)
        position, expected_prev, checked = done.position, done.prev, checked + done.rows
        if not done.complete or done.rows < limit:
            # The fast reader stopped short: the Record reader checks the rest
            # of the chunk and names the first break, as it always has.
            rows = await conn.fetch(QUERIES["audit_scan"], position, to_position, limit - done.rows)
            checked_to = _check_records(rows, position, expected_prev, leaves)
            if isinstance(checked_to, _Break):
                return AuditResult(ok=False, from_position=start, checked=checked + checked_to.checked,
                                   last_position=checked_to.last_position,
                                   first_bad_position=checked_to.position, reason=checked_to.reason)
            (position, expected_prev), checked = checked_to, checked + len(rows)
        if progress is not None:
            progress(limit)
    return AuditResult(ok=True, from_position=start, checked=checked, last_position=position)


class _Break(msgspec.Struct, frozen=True):
    position: int
    reason: str
    checked: int
    last_position: int


def _check_records(
    rows: Sequence[asyncpg.Record], position: int, expected_prev: bytes, leaves: list[bytes] | None,
) -> tuple[int, bytes] | _Break:
    """The reference reader: Records extending the chain from `position`
    (whose hash is `expected_prev`); the last position and hash, or the first break."""
    if not rows:
        return _Break(position + 1, f"gap: position {position + 1} is missing", 0, position)
    sha256 = hashlib.sha256
    for checked, (pos, stream, version, etype, payload, meta, prev, digest) in enumerate(rows):
        reason = ""
        # Encoded once for the entry and the leaf alike.
        stream, etype = stream.encode(), etype.encode()
        if pos != position + 1:
            reason = f"gap: position {position + 1} is missing"
            pos = position + 1
        elif prev != expected_prev:
            reason = "predecessor link broken: prev_hash differs from the previous entry's hash"
        elif sha256(prev + encoded_entry_bytes(pos, stream, version, etype, payload, meta)).digest() != digest:
            reason = "hash mismatch: the entry's content does not match its hash"
        if reason:
            return _Break(pos, reason, checked, position)
        if leaves is not None:
            try:
                leaf = encoded_leaf_bytes(pos, stream, version, etype, payload, meta, digest)
            except _UNREADABLE:
                return _Break(pos, "unreadable entry: its metadata or payload is not the JSON its leaf is built from",
                              checked, position)
            leaves.append(leaf_hash(leaf))
        position, expected_prev = pos, digest
    return position, expected_prev


class TreeRoots(Protocol):
    """What checkpoints are checked against: a MerkleTree, or just its roots."""

    def __len__(self) -> int: ...

    def root(self, size: int) -> bytes: ...


def check_checkpoints(
    tree: TreeRoots, checkpoints: Sequence[tuple[int, str]], origin: str, trusted: Sequence[Verifier],
) -> CheckpointBreak | None:
    """The first checkpoint (by tree size) that is not signed by a trusted key
    for `origin`, or whose root is not the recomputed tree's at its size."""
    for size, note in checkpoints:
        if size > len(tree):
            return CheckpointBreak(size, f"the ledger ends at position {len(tree)}, before this tree size")
        checkpoint = _verified(note, trusted)
        if checkpoint is None:
            return CheckpointBreak(size, "no trusted log key signed it, or a signature does not verify")
        if (checkpoint.origin, checkpoint.size) != (origin, size):
            return CheckpointBreak(size, f"it is signed for {checkpoint.origin!r} at size {checkpoint.size}")
        if checkpoint.root_hash != tree.root(size):
            return CheckpointBreak(size, "its signed root is not the root of the ledger's tree at that size")
    return None


def _verified(note: str, trusted: Sequence[Verifier]) -> Checkpoint | None:
    for verifier in trusted:
        try:
            return verify_checkpoint(note, verifier)
        except NoteError:
            continue
    return None
