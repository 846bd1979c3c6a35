"""The packed credential table: lookups by UUID and by any other id, growth
of its hash table, values outside the packed form, and its snapshot columns."""

from __future__ import annotations

import os
import uuid

from services.verification.credential_table import NEVER, CredentialTable, uuid_key
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
