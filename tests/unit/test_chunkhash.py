"""The audit's C accelerator (_chunkhash.c) against the Python reader it
stands in for (copy_rows.reference_check_rows): on the same binary COPY
chunks, the same RowsChecked, the same leaves and the same exceptions, for
intact rows, documents, rows it hands back, every kind of break and
corrupted or truncated buffers."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ledger.eventstore.chain import chain_hash, encoded_entry_bytes
from shared.ledger.transparency.compact_range import reference_parents
from shared.ledger.transparency.copy_rows import ChunkStream, RowsChecked, bounded, check_rows, reference_check_rows
from shared.ledger.transparency.native import chunkhash

pytestmark = pytest.mark.skipif(
    chunkhash is None, reason="the C accelerator is not built (no compiler or OpenSSL headers at install)"
)

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
META = b'{"actor":"a","recorded_at":"2026-01-02T03:04:05.123456Z","tenant":"t"}'


def row_tuple(pos: int, version: int, prev: bytes, digest: bytes, *fields: bytes | None) -> bytes:
    """One tuple as the audit_copy query writes it (None: a NULL, length -1)."""
    head = struct.pack(">hiqiii32si32s", 8, 8, pos, 4, version, len(prev), prev, len(digest), digest)
    return head + b"".join(struct.pack(">i", -1) if f is None else struct.pack(">i", len(f)) + f for f in fields)


def chained(rows: list[tuple[bytes, bytes, bytes, bytes]], position: int = 0, prev: bytes = bytes(32)) -> bytes:
    """A chunk of correctly chained rows of (stream, type, payload, metadata)."""
    tuples = []
    for stream, etype, payload, metadata in rows:
        position += 1
        digest = chain_hash(prev, encoded_entry_bytes(position, stream, 1, etype, payload, metadata))
        tuples.append(row_tuple(position, 1, prev, digest, stream, etype, payload, metadata))
        prev = digest
    return HEADER + b"".join(tuples) + TRAILER


def streamed(parts: int) -> Callable[[bytes, int, bytes, list[bytes] | None], RowsChecked]:
    """check_rows with the chunk fed to a ChunkStream in parts of `parts` bytes, as asyncpg hands them over."""

    def check(buffer: bytes, position: int, prev: bytes, leaves: list[bytes] | None) -> RowsChecked:
        stream = ChunkStream(position, prev, leaves)
        for start in range(0, len(buffer), parts):
            stream.feed(bytearray(buffer[start : start + parts]))
        return stream.finish()

    return check


def both(buffer: bytes, position: int = 0, prev: bytes = bytes(32), leaves: bool = True) -> object:
    """The outcome of the accelerated reader, whole and fed in parts, and of the
    reference; asserts they all agree."""
    outcomes = []
    for check in (check_rows, streamed(1), streamed(131), streamed(1000), reference_check_rows):
        found: list[bytes] | None = [] if leaves else None
        try:
            done = check(buffer, position, prev, found)
            outcomes.append((done.position, done.prev, done.rows, done.complete, found))
        except Exception as exc:  # the reference's own exceptions, e.g. msgspec's
            outcomes.append((type(exc), found))
    assert all(outcome == outcomes[-1] for outcome in outcomes)
    return outcomes[0]


def plain(i: int) -> tuple[bytes, bytes, bytes, bytes]:
    return (f"s-{i}".encode(), b"test.Noted", b'{"n":%d,"text":"e%d"}' % (i, i), META if i % 3 else b'{"recorded_at":"x"}')


DOCUMENTS = [
    b'{"document":{"id":"urn:x:1","n":[1,-2.5e+3,true,false,null],"name":"Zo\xc3\xab \xe2\x9c\x93"},"note":""}',
    b'{"a":{"document":1},"document":"second wins","document":[{"deep":{}}]}',
    b'{"text":"\\"document\\": mentioned only"}',  # an escape: handed back
    b'{"x":{"document":{"nested":"only"}}}',
]


def test_intact_rows_and_documents_are_confirmed_in_c_alone():
    rows = [plain(i) for i in range(50)] + [(b"d", b"test.Doc", DOCUMENTS[i % 2], META) for i in range(6)]
    buffer = chained(rows)
    leaves: list[bytes] = []
    offset, position, prev, done, stop = chunkhash.check_rows(buffer, len(HEADER), 0, bytes(32), leaves)
    assert (offset, position, done, stop) == (len(buffer) - 2, 56, 56, chunkhash.STOP_END)
    assert both(buffer) == (56, prev, 56, True, leaves)
    assert both(buffer, leaves=False)[:4] == (56, prev, 56, True)


@pytest.mark.parametrize("payload, metadata", [
    (DOCUMENTS[2], META),
    (DOCUMENTS[3], META),
    (b'{"document": {"spaced": 1}}', META),
    (b'{"n":1}', b'{"recorded_at":"2026-01-02T03:04:05Z","who":"J\\u00f6rg"}'),
    (b'{"n":1}', b'{"recorded_at":"\xc3\xa9t\xc3\xa9"}'),
    (b'{"n":1}', b'{"recorded_at":"a","recorded_at":"b"}'),
    (b'{"n":1}', b' {"recorded_at":"a"}\n'),
    (b'{"n":1}', b'{"nested":' + b"[" * 80 + b"]" * 80 + b"}"),
    (b'{"n":1}', b"{}"),
])
def test_unusual_json_gets_the_reference_leaves(payload, metadata):
    buffer = chained([plain(1), (b"s", b"t", payload, metadata), plain(3)])
    assert both(buffer)[2:4] == (3, True)


@pytest.mark.parametrize("payload, metadata, error", [
    (b'{"n":1}', b"not json", msgspec.DecodeError),
    (b'{"n":1}', b'{"recorded_at":null}', msgspec.ValidationError),
    (b'{"n":1}', b"[]", msgspec.ValidationError),
    (b'{"document":{"a":1},}', META, msgspec.DecodeError),
    (b'{"x":01,"document":1}', META, msgspec.DecodeError),
])
def test_unreadable_json_with_a_valid_hash_raises_as_the_reference_does(payload, metadata, error):
    outcome = both(chained([plain(1), (b"s", b"t", payload, metadata)]))
    assert outcome[0] is error and len(outcome[1]) == 1  # the first row's leaf came before the raise


def corrupt(buffer: bytes, at: int, value: bytes) -> bytes:
    return buffer[:at] + value + buffer[at + len(value):]


FOUR = chained([plain(i) for i in range(4)])
SECOND = len(HEADER) + len(row_tuple(1, 1, bytes(32), bytes(32), *plain(0)))  # where row 2 starts


def length_word(field: int) -> int:
    """Where row 2's variable field (0: stream id ... 3: metadata) has its length word."""
    at = SECOND + 94 + sum(4 + len(value) for value in plain(1)[:field])
    assert FOUR[at : at + 4] == struct.pack(">i", len(plain(1)[field]))
    return at


@pytest.mark.parametrize("edit, rows", [
    ((SECOND + 6, struct.pack(">q", 3)), 1),  # gap: position 2 reads as 3
    ((SECOND + 26, b"\x00"), 1),  # broken link: prev_hash differs
    ((SECOND + 62, b"\x00"), 1),  # the stored hash is not the entry's
    ((SECOND + 20, b"\x07"), 1),  # the version differs from the one hashed
    ((SECOND + 22, struct.pack(">i", 33)), 1),  # a prev_hash of another length
    ((SECOND + 58, struct.pack(">i", 31)), 1),  # a hash of another length
    ((SECOND, struct.pack(">h", 12)), 1),  # another column count (the query's former one)
    ((0, b"PGCOPY\n\xff\r\n\x01"), 0),  # not a binary COPY file
    # Every variable field: a NULL, another negative length, a length past
    # the buffer, one byte short (the next length word is read from the
    # field's last byte) and one byte long.
    *[((length_word(f), struct.pack(">i", n)), 1) for f in range(4) for n in (-1, -2, 2**31 - 1)],
    *[((length_word(f), struct.pack(">i", len(plain(1)[f]) + d)), 1) for f in range(4) for d in (-1, 1)],
])
def test_every_kind_of_break_stops_both_at_the_same_row(edit, rows):
    assert both(corrupt(FOUR, *edit))[2:4] == (rows, False)


def test_the_last_row_may_not_reach_past_the_chunk():
    """The last row's metadata ending in, or past, the trailer is a break."""
    last = len(FOUR) - 2 - len(plain(3)[3]) - 4
    for extra in (1, 2, 3, 100):
        buffer = corrupt(FOUR, last, struct.pack(">i", len(plain(3)[3]) + extra))
        assert both(buffer)[2:4] == (3, False)


def test_a_null_field_in_the_tuple_itself():
    digest = bytes(32)
    buffer = HEADER + row_tuple(1, 1, bytes(32), digest, b"s", b"t", None, META) + TRAILER
    assert both(buffer)[2:4] == (0, False)


def test_every_truncation_and_every_flipped_byte():
    for cut in range(len(FOUR) + 1):
        both(FOUR[:cut])
        both(FOUR[:cut] + TRAILER)
    for at in range(len(FOUR)):
        both(corrupt(FOUR, at, bytes([FOUR[at] ^ 0xFF])))
        both(corrupt(FOUR, at, b"\x00"), leaves=False)


def test_a_stream_fed_after_a_break_stays_broken():
    stream = ChunkStream(0, bytes(32), [])
    stream.feed(corrupt(FOUR, SECOND + 62, b"\x00"))
    stream.feed(FOUR)
    assert stream.rows == 1 and not stream.finish().complete


def test_a_chunk_resumed_mid_chain():
    buffer = chained([plain(i) for i in range(5)], position=41, prev=b"\x07" * 32)
    assert both(buffer, 41, b"\x07" * 32)[2:4] == (5, True)
    assert both(buffer, 40, b"\x07" * 32)[2:4] == (0, False)


def test_arguments_are_checked():
    with pytest.raises(ValueError):
        chunkhash.check_rows(FOUR, len(HEADER), 0, bytes(31), None)
    with pytest.raises(ValueError):
        chunkhash.check_rows(FOUR, len(FOUR) + 1, 0, bytes(32), None)
    with pytest.raises(ValueError):
        chunkhash.check_rows(FOUR, len(HEADER), 0, bytes(32), ())
    assert chunkhash.check_rows(b"\xff", 1, 0, bytes(32), None) == (1, 0, bytes(32), 0, chunkhash.STOP_END)


def test_the_bounds_are_written_in_as_integers_only():
    query = "SELECT 1 FROM t WHERE position > $1 LIMIT $2"
    assert bounded(query, 40, 20_000) == "SELECT 1 FROM t WHERE position > 40 LIMIT 20000"
    with pytest.raises(ValueError):
        bounded(query, "0; DROP TABLE t", 1)  # type: ignore[arg-type]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["recorded_at", "document", "actor", "x"])


@st.composite
def json_bytes(draw: st.DrawFn) -> bytes:
    """JSON objects in every spacing and escaping, sometimes cut or spoiled."""
    members = draw(st.lists(st.tuples(KEYS, JSON | st.text()), max_size=4))
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=draw(st.booleans()))}" for k, v in members)
    text += "}"
    if draw(st.booleans()):
        text = text.replace(":", draw(st.sampled_from([": ", ":"])), 1)
    data = text.encode()
    return data[:-1] if draw(st.integers(0, 7)) == 0 else data


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(json_bytes(), json_bytes()), min_size=1, max_size=4))
def test_random_json_gets_the_reference_leaves_or_exception(rows):
    both(chained([(b"s", b"t", payload, metadata) for payload, metadata in rows]))


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=9), st.integers(0, 3))
def test_merkle_parents_are_the_reference_ones(nodes, start):
    assert chunkhash.merkle_parents(nodes, start) == reference_parents(nodes, start)
