"""The audit's fast reader: ledger rows as binary COPY tuples, checked in place.

Decoding rows into asyncpg Records (about 1.5 us a row: a Record, a str for
the stream id and type, a bytes per column) cost more than hashing them. A
`COPY (SELECT ...) TO STDOUT (FORMAT binary)` chunk is instead one buffer:
each tuple's fixed-width head (position, version, both hashes and the
stream id's length) is read with one struct call, each later variable
field after its own length word, and the stream id, type, payload and
metadata are sliced straight into the entry and leaf bytes (chain.py,
leaf.py), which they already are as UTF-8.

This reader only ever confirms rows. At the first row it cannot confirm (a
gap, a broken link, a hash mismatch, or a tuple not shaped as the schema
guarantees, e.g. a NULL or a hash that is not 32 bytes after a superuser
edit) it stops, and the caller checks from that row on with the Record
reader, so a failure is named exactly as it always was.

Where the optional C accelerator is built (_chunkhash.c, setup.py), a chunk's
rows are hashed in one call instead, from the same bytes; the row loop below
stays the reference it is tested against, and checks any row the C code
hands back (a metadata or payload it cannot read as surely as msgspec).
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from binascii import hexlify

import asyncpg

from shared.ledger.transparency.leaf import payload_document, recorded_at_json
from shared.ledger.transparency.native import chunkhash

# The binary COPY file header: signature, flags and an empty extension area.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER_SIZE = len(_SIGNATURE) + 8
_COLUMNS = 8
# Field count, then (length, value) for: position int8, version int4,
# prev_hash and hash (32 bytes each); then the stream id's length.
_HEAD = struct.Struct(">hiqiii32si32si")
_LENGTH = struct.Struct(">i")  # each later variable field's own length (-1: NULL)
_PREFIX = _LENGTH.size

# chain.py's entry and leaf.py's leaf, with what each is hashed after
# (the predecessor's hash; the RFC 6962 leaf prefix) folded into the layout.
_CHAINED_ENTRY = b'%b{"metadata":%b,"payload":%b,"position":%d,"stream":"%b","type":"%b","version":%d}'
_LEAF_TAIL = b'"leaf_version":2,"position":%d,"recorded_at":%b,"stream":"%b","type":"%b","version":%d}'
_LEAF = b'\x00{"chain_hash":"%b",' + _LEAF_TAIL
_LEAF_WITH_DOCUMENT = b'\x00{"chain_hash":"%b","document_sha256":"%b",' + _LEAF_TAIL
_DOCUMENT_MEMBER = b'"document":'


# asyncpg hands the COPY over one socket read at a time, and each part costs
# the worker some 40 us (the event loop, asyncpg's waiter, pausing and
# resuming the transport) however small: Postgres writes 8 KB at a time, so
# a reader that keeps up wakes for a few rows. After a part smaller than
# this, the reader waits a moment (the transport paused, the server
# writing meanwhile) and takes the next part at up to asyncio's 256 KB.
_FULL_PART = 64 * 1024
_FILL_WAIT = 0.001


class RowsChecked:
    """Where a chunk's check stopped: the last confirmed position and hash,
    and whether every row of the chunk was confirmed."""

    __slots__ = ("complete", "position", "prev", "rows")

    def __init__(self, position: int, prev: bytes, rows: int, complete: bool) -> None:
        self.position, self.prev, self.rows, self.complete = position, prev, rows, complete


async def copy_chunk(conn: asyncpg.Connection, query: str, after: int, limit: int) -> bytes:
    """The binary COPY output of `query` (positions after `after`, at most `limit`)."""
    parts: list[bytes] = []

    async def collect(data: bytes) -> None:
        parts.append(data)

    await conn.copy_from_query(bounded(query, after, limit), output=collect, format="binary")
    return b"".join(parts)


def bounded(query: str, after: int, limit: int) -> str:
    """`query` with its $1 and $2 written in as integer literals: given as
    arguments, asyncpg writes them in itself, with two more round trips a
    chunk (a PREPARE and a SELECT of quote_literal), each planning the query."""
    return query.replace("$1", f"{after:d}").replace("$2", f"{limit:d}")


async def checked_chunk(
    conn: asyncpg.Connection, query: str, position: int, limit: int, prev: bytes, leaves: list[bytes] | None,
) -> RowsChecked:
    """`check_rows` of the chunk of `query` after `position` (at most `limit`
    rows). With the C accelerator, the rows are checked as the chunk arrives
    (ChunkStream): the database sends the next rows meanwhile, and no chunk
    is ever joined into one buffer."""
    if chunkhash is None:
        return check_rows(await copy_chunk(conn, query, position, limit), position, prev, leaves)
    stream = ChunkStream(position, prev, leaves)

    async def feed(data: bytes) -> None:
        stream.feed(data)
        if len(data) < _FULL_PART and stream.rows < limit and not stream.broke:
            await asyncio.sleep(_FILL_WAIT)

    await conn.copy_from_query(bounded(query, position, limit), output=feed, format="binary")
    return stream.finish()


def check_rows(buffer: bytes, position: int, prev: bytes, leaves: list[bytes] | None) -> RowsChecked:
    """Confirm the chunk's rows in order, extending the chain from `position`
    (whose hash is `prev`); with `leaves`, append each confirmed row's leaf
    hash (leaf.py, exactly). The C accelerator, where it is built, checks the
    rows it can; a row it hands back is checked here, and it resumes after."""
    if chunkhash is None:
        return reference_check_rows(buffer, position, prev, leaves)
    stream = ChunkStream(position, prev, leaves)
    stream.feed(buffer)
    return stream.finish()


class ChunkStream:
    """`check_rows` over a chunk fed in parts, as the C accelerator checks it:
    each part's whole rows at once, the rest kept until the next part."""

    def __init__(self, position: int, prev: bytes, leaves: list[bytes] | None) -> None:
        self.position, self.prev, self.leaves, self.rows = position, prev, leaves, 0
        self.pending = b""  # not checked yet: the file header, or the start of a row
        self.started = self.broke = False
        # Raised by the Python reader on a row (e.g. metadata that is not JSON):
        # kept until the whole chunk has arrived, so the connection stays usable.
        self.error: Exception | None = None

    def feed(self, data: bytes | bytearray) -> None:
        """The next part (asyncpg hands a COPY's data over as bytearrays)."""
        if self.broke:
            return  # the chunk's end is drained unread
        buffer, offset = self.pending + data if self.pending else bytes(data), 0
        if not self.started:
            if len(buffer) < _HEADER_SIZE:
                self.pending = buffer
                return
            self.started, self.broke = True, buffer[:_HEADER_SIZE] != _SIGNATURE + bytes(8)
            offset = _HEADER_SIZE
        if not self.broke:
            offset = self._check(buffer, offset, partial=True)
        self.pending = buffer[offset:]

    def finish(self) -> RowsChecked:
        """What check_rows of the whole chunk returns (or raises)."""
        if self.started and not self.broke:
            offset = self._check(self.pending, 0, partial=False)
            if self.error is None:
                return _checked(self.pending, offset, self.position, self.prev, self.rows, self.broke)
        if self.error is not None:
            raise self.error
        return RowsChecked(self.position, self.prev, self.rows, False)

    def _check(self, buffer: bytes, offset: int, partial: bool) -> int:
        assert chunkhash is not None
        while True:
            offset, self.position, self.prev, done, stop = chunkhash.check_rows(
                buffer, offset, self.position, self.prev, self.leaves, partial
            )
            self.rows += done
            if stop != chunkhash.STOP_HANDBACK:
                self.broke = stop == chunkhash.STOP_BREAK
                return offset
            try:
                offset, self.position, self.prev, done, self.broke = _check_from(
                    buffer, offset, self.position, self.prev, self.leaves, 1
                )
            except Exception as exc:  # re-raised by finish(), once the chunk is drained
                self.error, self.broke = exc, True
                return offset
            self.rows += done
            if self.broke:
                return offset


def reference_check_rows(buffer: bytes, position: int, prev: bytes, leaves: list[bytes] | None) -> RowsChecked:
    """`check_rows` in Python alone: the reference the accelerator is tested against."""
    if buffer[:_HEADER_SIZE] != _SIGNATURE + bytes(8):
        return RowsChecked(position, prev, 0, False)
    return _checked(buffer, *_check_from(buffer, _HEADER_SIZE, position, prev, leaves, -1))


def _checked(buffer: bytes, offset: int, position: int, prev: bytes, rows: int, broke: bool) -> RowsChecked:
    """Complete: no break, and the tuples end exactly at the file trailer."""
    end = len(buffer) - 2
    return RowsChecked(position, prev, rows, not broke and offset == end and buffer[end:] == b"\xff\xff")


def _check_from(
    buffer: bytes, offset: int, position: int, prev: bytes, leaves: list[bytes] | None, limit: int,
) -> tuple[int, int, bytes, int, bool]:
    """From the tuple at `offset`, at most `limit` rows (-1: all): where the
    check ended, the last confirmed position and hash, the rows confirmed and
    whether it stopped at a break. One loop, no calls but the hashing: at a
    few microseconds a row, a function call per row is a tenth of the cost."""
    size, end, rows = len(buffer), len(buffer) - 2, 0
    unpack, length = _HEAD.unpack_from, _LENGTH.unpack_from
    sha256, add = hashlib.sha256, None if leaves is None else leaves.append
    # The events of one append share their metadata bytes: most rows skip decoding it.
    recorded: dict[bytes, bytes] = {}
    while offset + _HEAD.size <= end and rows != limit:
        # A NOT NULL primary key fixes the position's length; the others are
        # the schema's constraints, which an owner can drop.
        (count, _, pos, l_ver, version, l_prev, stored_prev, l_hash, digest, ls) = unpack(buffer, offset)
        if count != _COLUMNS or l_ver != 4 or l_prev != 32 or l_hash != 32:
            return offset, position, prev, rows, True
        if pos != position + 1 or stored_prev != prev:
            return offset, position, prev, rows, True
        # Each variable field after its length word: a NULL (-1), or a field
        # or length word past the buffer, is a break.
        s = offset + _HEAD.size
        t = s + ls + _PREFIX
        if ls < 0 or t > size:
            return offset, position, prev, rows, True
        lt = length(buffer, t - _PREFIX)[0]
        p = t + lt + _PREFIX
        if lt < 0 or p > size:
            return offset, position, prev, rows, True
        lp = length(buffer, p - _PREFIX)[0]
        m = p + lp + _PREFIX
        if lp < 0 or m > size:
            return offset, position, prev, rows, True
        lm = length(buffer, m - _PREFIX)[0]
        stop = m + lm
        if lm < 0 or stop > size:
            return offset, position, prev, rows, True
        stream, etype, payload, metadata = (
            buffer[s : t - _PREFIX],
            buffer[t : p - _PREFIX],
            buffer[p : m - _PREFIX],
            buffer[m:stop],
        )
        if sha256(_CHAINED_ENTRY % (prev, metadata, payload, pos, stream, etype, version)).digest() != digest:
            return offset, position, prev, rows, True
        if add is not None:
            at = recorded.get(metadata)
            if at is None:
                at = recorded[metadata] = recorded_at_json(metadata)
            document = payload_document(payload) if _DOCUMENT_MEMBER in payload else None
            if document is None:
                add(sha256(_LEAF % (hexlify(digest), pos, at, stream, etype, version)).digest())
            else:
                add(
                    sha256(
                        _LEAF_WITH_DOCUMENT
                        % (hexlify(digest), sha256(document).hexdigest().encode(), pos, at, stream, etype, version)
                    ).digest()
                )
        offset, position, prev = stop, pos, digest
        rows += 1
    return offset, position, prev, rows, False
