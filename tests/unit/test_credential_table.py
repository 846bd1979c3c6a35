"""The packed credential table: lookups by UUID and by any other id, growth
of its hash table, values outside the packed form, and its snapshot columns."""

from __future__ import annotations

import os
import uuid

import msgspec
import numpy as np

from services.verification import snapshot_v3
from services.verification.credential_ids import uuid_key
from services.verification.credential_table import (
    MAX_PARTS,
    NARROW_PROFILES,
    NEVER,
    CredentialTable,
    learner_matches,
)
from services.verification.model import ReadModel
from services.verification.snapshot import encode_chunks, restore

PROFILE = ("uni-1", "key-1", "ach-1")


def _add(table: CredentialTable, cid: str, n: int, **kw) -> None:
    defaults = dict(learner_hash="sha256$" + os.urandom(32).hex(), salt=os.urandom(16).hex(),
                    issued_at=1_700_000_000 + n, valid_from=1_700_000_000 + n, valid_until=NEVER)
    table.add(cid, n.to_bytes(32, "big"), profile=PROFILE, **{**defaults, **kw})


def test_uuid_key_accepts_only_the_canonical_form():
    value = str(uuid.uuid4())
    assert uuid_key("urn:uuid:" + value) == uuid.UUID(value).bytes
    assert uuid_key("urn:uuid:" + value.upper()) is None
    assert uuid_key("urn:uuid:" + value.replace("-", "")) is None
    assert uuid_key("urn:uuid:0000000g-0000-4000-8000-000000000000") is None


def test_many_ids_are_found_after_growth_and_reload():
    table = CredentialTable()
    ids = [f"urn:uuid:{uuid.uuid4()}" for _ in range(5000)] + [f"urn:uuid:{i:08d}-1111-4000-8000-{i:012d}"
                                                               for i in range(5000)]
    for n, cid in enumerate(ids):
        _add(table, cid, n)
    _add(table, "https://elsewhere.example/c/1", len(ids))
    assert len(table) == len(ids) + 1
    assert [table.row(cid) for cid in ids] == list(range(len(ids)))
    assert table.row("https://elsewhere.example/c/1") == len(ids)
    assert table.row(f"urn:uuid:{uuid.uuid4()}") == -1 and table.row(ids[0].upper()) == -1
    table.reindex()
    assert [table.row(cid) for cid in ids[:100]] == list(range(100))
    assert table.id_of(7) == ids[7] and table.id_of(len(ids)) == "https://elsewhere.example/c/1"


def test_values_outside_the_packed_form_are_kept_exactly():
    table = CredentialTable()
    _add(table, "urn:uuid:a", 0, learner_hash="md5$ABC", salt="short", issued_at=-5, valid_from=-5,
         valid_until=2**40)
    record = table["urn:uuid:a"]
    assert (record.learner_hash, record.salt) == ("md5$ABC", "short")
    assert (record.issued_at, record.valid_from, record.valid_until) == (-5, -5, 2**40)
    # The clamped columns the fast path reads give the same window answer.
    assert table.valid_from[0] <= 1_800_000_000 < table.valid_until[0]


def test_snapshot_columns_round_trip():
    model = ReadModel()
    ids = [f"urn:uuid:{uuid.uuid4()}" for _ in range(3000)]
    for n, cid in enumerate(ids):
        _add(model.credentials, cid, n, components=(ids[0],) if n == 5 else ())
    _add(model.credentials, "urn:uuid:odd", 3000, salt="")
    _add(model.credentials, "urn:uuid:short-salt", 3001, salt="0123456789abcdef")
    copy = ReadModel()
    restore(copy, list(encode_chunks(model)))
    assert copy.credentials["urn:uuid:short-salt"].salt == "0123456789abcdef"
    assert not model.credentials.other_salt.keys() - {3000}
    for cid in [*ids[::97], "urn:uuid:odd", "urn:uuid:short-salt"]:
        a, b = model.credentials[cid], copy.credentials[cid]
        assert (a.document_hash, a.learner_hash, a.salt, a.issuer_id, a.issued_at, a.valid_until, a.components) == (
            b.document_hash, b.learner_hash, b.salt, b.issuer_id, b.issued_at, b.valid_until, b.components)
    assert copy.awards_of == {ids[0]: [ids[5]]}


def test_compact_forms_keep_every_value_exactly():
    table = CredentialTable()
    nil = "urn:uuid:00000000-0000-0000-0000-000000000000"
    _add(table, nil, 0, salt="ab" * 8 + "00" * 8)  # would read as an 8-byte salt if packed
    _add(table, f"urn:uuid:{uuid.uuid4()}", 1, issued_at=1_700_000_000 - 86_400)  # outside its block's window
    assert table.row(nil) == 0 and table.rows([nil]) == [0] and table.id_of(0) == nil
    assert table[nil].salt == "ab" * 8 + "00" * 8
    assert table.id_of(1) and table.times(1)[0] == 1_700_000_000 - 86_400


def test_the_learner_hash_keeps_128_bits_and_matches_only_its_own():
    table = CredentialTable()
    full = "sha256$" + os.urandom(32).hex()
    _add(table, "urn:uuid:a", 0, learner_hash=full)
    stored = table["urn:uuid:a"].learner_hash
    assert learner_matches(full, stored) and stored != full
    assert not learner_matches(full[:-1] + ("0" if full[-1] != "0" else "1"), "sha256$" + "0" * 64)
    assert not learner_matches("sha256$" + "f" * 64, stored)


def test_many_profiles_widen_the_kind_column_and_the_verdict_pool_stays_bounded():
    table = CredentialTable()
    for n in range(NARROW_PROFILES + 10):
        table.add(f"urn:uuid:{uuid.UUID(int=n + 1)}", bytes(32), "", "", ("i", "k", f"a{n}"), 1, 1, NEVER)
    table.set_status(NARROW_PROFILES + 5, 1)
    record = table[f"urn:uuid:{uuid.UUID(int=NARROW_PROFILES + 6)}"]
    assert (record.achievement_id, record.status) == (f"a{NARROW_PROFILES + 5}", 1)
    for n in range(MAX_PARTS + 3):
        table.set_parts(n % table.count, object())
    assert len(table.parts_pool) == 3 and table.parts[0] == -1


def _format_3_columns(table: CredentialTable) -> list[bytes]:
    """The columns of `table` as format 3 stored them (64 digest bytes, 4-byte
    profiles and issued_at, a status byte with a short-salt flag)."""
    n = table.count
    digests = np.zeros((n, 64), dtype=np.uint8)
    digests[:, :48] = np.frombuffer(table.digests, dtype=np.uint8).reshape(n, 48)
    kinds = np.array(table.kinds, dtype=np.uint32)
    issued = np.array([table.times(row)[0] for row in range(n)], dtype=np.uint32)
    short = np.array([len(table.salt(row)) == 16 for row in range(n)], dtype=np.uint8) * 0x40
    return [table.ids, digests.tobytes(), table.salts, (kinds >> 2).tobytes(), issued.tobytes(),
            bytes(table.valid_from), bytes(table.valid_until), ((kinds & 3).astype(np.uint8) | short).tobytes()]


def test_a_format_3_snapshot_still_loads():
    model = ReadModel()
    ids = [f"urn:uuid:{uuid.uuid4()}" for _ in range(600)]
    for n, cid in enumerate(ids):
        _add(model.credentials, cid, n, salt="0123456789abcdef" if n == 3 else os.urandom(16).hex())
    model.credentials.set_status(7, 1)
    chunks = list(encode_chunks(model))
    header = msgspec.msgpack.decode(chunks[0])
    header[-2] = [1] * 8  # one piece per format-3 column
    old = [msgspec.msgpack.encode(header[:-1]), *_format_3_columns(model.credentials)]
    copy = ReadModel()
    restore(copy, old, snapshot_v3.FORMAT)
    for cid in ids:
        a, b = model.credentials[cid], copy.credentials[cid]
        assert (a.document_hash, a.learner_hash, a.salt, a.achievement_id, a.status, a.issued_at, a.valid_until) \
            == (b.document_hash, b.learner_hash, b.salt, b.achievement_id, b.status, b.issued_at, b.valid_until)
