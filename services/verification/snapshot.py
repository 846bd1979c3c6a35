"""Read-model snapshots in Postgres: restart from a position, not from zero.

A snapshot is the model at one ledger position: the registry's raw events
(few; replayed on load), the status notes, and the credential records as
msgpack rows in chunks. It is written in one transaction with its position
and that position's chain hash, so a loaded snapshot is always whole and
consistent; the projection then catches up from that position and checks
the next broker record against that hash. The format number lets a newer service
ignore (and rebuild from the ledger) a snapshot it cannot read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import asyncpg
import msgspec

from services.verification.model import CredentialRecord, ReadModel, StatusNote
from shared.db.sql import load_queries

QUERIES = load_queries("services.verification")

log = logging.getLogger(__name__)

# 2: status notes hold the reason's category, not the issuer's free text.
FORMAT = 2
ROWS_PER_CHUNK = 50_000
Row = tuple[str, bytes, str, str, str, str, int, int, int, int, list[str]]


class Header(msgspec.Struct, array_like=True):
    position: int
    registry_events: list[tuple[str, bytes]]
    notes: dict[str, StatusNote]
    credentials: int


_HEADER = msgspec.msgpack.Decoder(Header)
_ROWS = msgspec.msgpack.Decoder(list[Row])
_ENCODER = msgspec.msgpack.Encoder()


def encode_chunks(model: ReadModel) -> Iterator[bytes]:
    """The header, then the credential rows; a generator so the caller can
    yield to the event loop between chunks."""
    yield _ENCODER.encode(Header(model.position, model.registry_events, model.notes, len(model.credentials)))
    rows: list[tuple] = []
    for credential_id, record in model.credentials.items():
        rows.append(record.row(credential_id))
        if len(rows) == ROWS_PER_CHUNK:
            yield _ENCODER.encode(rows)
            rows = []
    if rows:
        yield _ENCODER.encode(rows)


def restore(model: ReadModel, chunks: list[bytes]) -> None:
    header = _HEADER.decode(chunks[0])
    for event_type, payload in header.registry_events:
        model.apply_registry(event_type, payload)
    model.notes.update(header.notes)
    shared, intern = model.shared_int, _Interner()
    for chunk in chunks[1:]:
        for cid, digests, salt, issuer, key, achievement, issued, start, end, status, components in _ROWS.decode(chunk):
            model.add(cid, CredentialRecord(
                digests, salt, intern(issuer), intern(key), intern(achievement),
                shared(issued), shared(start), shared(end), status, tuple(components)))
    model.position = header.position


class _Interner(dict):
    """One str object per distinct id, as the event path's sys.intern gives."""

    def __call__(self, value: str) -> str:
        return self.setdefault(value, value)


class SnapshotStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, model: ReadModel, on_chunk=lambda: None) -> int:
        """Write the model as the newest snapshot and drop older ones."""
        started = time.perf_counter()
        async with self._pool.acquire() as conn, conn.transaction():
            snapshot_id = await conn.fetchval(
                QUERIES["insert_snapshot"],
                model.position, model.last_hash, FORMAT, len(model.credentials))
            for chunk_no, data in enumerate(encode_chunks(model)):
                await conn.execute(QUERIES["insert_snapshot_chunk"],
                                   snapshot_id, chunk_no, data)
                on_chunk()
                await asyncio.sleep(0)  # let requests in between chunks
            await conn.execute(QUERIES["prune_snapshots"], snapshot_id)
        log.info("snapshot saved", extra={"position": model.position, "credentials": len(model.credentials),
                                          "seconds": round(time.perf_counter() - started, 3)})
        return snapshot_id

    async def load_into(self, model: ReadModel) -> bool:
        """Fill an empty model from the newest readable snapshot; False if none."""
        started = time.perf_counter()
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                QUERIES["latest_snapshot"], FORMAT)
            if row is None:
                return False
            chunks = [r["data"] for r in await conn.fetch(
                QUERIES["snapshot_chunks"],
                row["snapshot_id"])]
        restore(model, chunks)
        model.last_hash = row["last_hash"]
        log.info("snapshot loaded", extra={"position": model.position, "credentials": len(model.credentials),
                                           "seconds": round(time.perf_counter() - started, 3)})
        return True
