"""Read-model snapshots in Postgres: restart from a position, not from zero.

A snapshot is the model at one ledger position: a header (the registry's
raw events, few and replayed on load; the status notes; the credential
table's interned profiles and the values its packed columns cannot hold),
then each packed column of the credential table as raw bytes, in pieces of
at most COLUMN_PIECE bytes. Loading is a copy of those bytes plus one
vectorised build of the id hash table, with no per-credential work in
Python. It is written in one transaction with its position and that
position's chain hash, so a loaded snapshot is always whole and consistent;
the projection then catches up from that position and checks the next
broker record against that hash. The format number lets a newer service
ignore (and rebuild from the ledger) a snapshot it cannot read; a format-3
snapshot (the rows before they were made compact) is converted on load
(snapshot_v3.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections.abc import Iterator

import asyncpg
import msgspec

from services.verification import snapshot_v3
from services.verification.model import ReadModel, StatusNote
from shared.db.sql import load_queries

QUERIES = load_queries("services.verification")

log = logging.getLogger(__name__)

# 2: status notes hold the reason's category, not the issuer's free text.
# 3: the credentials as packed columns.
# 4: compact rows (a 16-byte learner-hash prefix, profile and status in one
#    kind, issued_at as a delta; credential_table.py).
FORMAT = 4
READABLE = (FORMAT, snapshot_v3.FORMAT)
COLUMN_PIECE = 8 << 20
# The table's packed columns, in snapshot order.
COLUMNS = ("ids", "digests", "salts", "kinds", "issued_base", "issued_delta", "valid_from", "valid_until")


class Header(msgspec.Struct, array_like=True):
    position: int
    registry_events: list[tuple[str, bytes]]
    notes: dict[str, StatusNote]
    credentials: int
    profiles: list[tuple[str, str, str]]
    other_ids: dict[str, int]
    other_learner: dict[int, str]
    other_salt: dict[int, str]
    other_times: dict[int, tuple[int, int, int]]
    components: dict[int, list[str]]
    pieces: list[int]  # per column of COLUMNS, how many chunks follow
    kinds_typecode: str = "H"  # "I" past NARROW_PROFILES profiles (absent in format 3)


_HEADER = msgspec.msgpack.Decoder(Header)
_ENCODER = msgspec.msgpack.Encoder()


def encode_chunks(model: ReadModel) -> Iterator[bytes]:
    """The header, then the column pieces; a generator so the caller can
    yield to the event loop between chunks."""
    table = model.credentials
    # Views, not copies (a copy would double the model's memory for a moment):
    # the projection takes snapshots while its runner waits, so no row is
    # added (no column resized) until the last piece is written.
    columns = [memoryview(getattr(table, name)).cast("B") for name in COLUMNS]
    pieces = [max(1, -(-len(column) // COLUMN_PIECE)) for column in columns]
    yield _ENCODER.encode(Header(
        model.position, model.registry_events, model.notes, table.count, table.profile_values, table.other_ids,
        table.other_learner, table.other_salt, table.other_times,
        {row: list(components) for row, components in table.components.items()}, pieces, table.kinds.typecode))
    for column, count in zip(columns, pieces, strict=True):
        for n in range(count):
            yield bytes(column[n * COLUMN_PIECE:(n + 1) * COLUMN_PIECE])
        column.release()


def restore(model: ReadModel, chunks: list[bytes], snapshot_format: int = FORMAT) -> None:
    header = _HEADER.decode(chunks[0])
    for event_type, payload in header.registry_events:
        model.apply_registry(event_type, payload)
    model.notes.update(header.notes)
    table = model.credentials
    rest = iter(chunks[1:])
    names = snapshot_v3.COLUMNS if snapshot_format == snapshot_v3.FORMAT else COLUMNS
    columns = {name: b"".join(next(rest) for _ in range(count)) for name, count in zip(names, header.pieces,
                                                                                         strict=True)}
    kinds_typecode = header.kinds_typecode
    if snapshot_format == snapshot_v3.FORMAT:
        upgraded = snapshot_v3.upgrade(columns, header.credentials)
        columns, kinds_typecode = upgraded.columns, upgraded.kinds_typecode
        header.other_ids.update(upgraded.other_ids)
        header.other_salt.update(upgraded.other_salt)
        header.other_times.update(upgraded.other_times)  # type: ignore[arg-type]
    for name in COLUMNS:
        column = getattr(table, name)
        data = columns.pop(name)
        if isinstance(column, array):
            # Sliced: an array filled from bytes keeps 1/16 spare room, a copy none.
            setattr(table, name, array(kinds_typecode if name == "kinds" else column.typecode, data)[:])
        else:
            setattr(table, name, bytearray(data))
        del data
    table.count = header.credentials
    table.parts = array("h", b"\xff" * (2 * table.count))[:]
    table.profile_values = [tuple(p) for p in header.profiles]  # type: ignore[misc]
    table.restore_profiles()
    table.other_ids, table.other_learner, table.other_salt = header.other_ids, header.other_learner, header.other_salt
    table.other_id_of = {row: cid for cid, row in header.other_ids.items()}
    table.other_times = {row: tuple(times) for row, times in header.other_times.items()}  # type: ignore[misc]
    table.components = {row: tuple(components) for row, components in header.components.items()}
    for row, components in table.components.items():
        for component in components:
            model.awards_of.setdefault(component, []).append(table.id_of(row))
    table.reindex()
    model.position = header.position


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
            row = await conn.fetchrow(QUERIES["latest_snapshot"], list(READABLE))
            if row is None:
                return False
            chunks = [r["data"] for r in await conn.fetch(
                QUERIES["snapshot_chunks"],
                row["snapshot_id"])]
        restore(model, chunks, row["format"])
        model.last_hash = row["last_hash"]
        log.info("snapshot loaded", extra={"position": model.position, "credentials": len(model.credentials),
                                           "seconds": round(time.perf_counter() - started, 3)})
        return True
