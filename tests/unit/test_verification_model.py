"""The read model, its snapshot round trip, the prebuilt-fragment fast path
against the general path, freshness, and the bulk line formats."""

from __future__ import annotations

import os
import time

import msgspec
import pytest

from services.verification.batch import BatchVerifier
from services.verification.credential_table import learner_matches
from services.verification.freshness import Freshness
from services.verification.job_formats import csv_header, header_columns, ndjson_to_csv, parse_csv, parse_ndjson
from services.verification.model import REVOKED, ReadModel
from services.verification.schemas import Identity, ItemProblem, VerificationItem
from services.verification.snapshot import encode_chunks, restore
from services.verification.verdicts import BY_ID, ORIGIN_CHECKS, verdict_of
from shared.credential_format import identity_hash, issuer_did
from shared.credential_status import STATUSES
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_seed
from shared.crypto.multibase import public_key_to_multibase
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.events import registry as rev
from shared.jsonld.contexts import ContextLoader
from shared.ledger.eventstore.events import RecordedEvent
from tests.support.credentials_for_verification import build_document, issued_event, sign
from tests.support.world import EPOCH, Issuer, sample_spec


def recorded(events) -> list[RecordedEvent]:
    return [RecordedEvent(position=i, stream_id="s", version=1, event_type=e.event_type,
                          payload=msgspec.Raw(CATALOG.encode(e)), metadata=msgspec.Raw(b"{}"),
                          prev_hash=b"\0" * 32, hash=b"\0" * 32) for i, e in enumerate(events, 1)]


@pytest.fixture
def world():
    key = signing_key_from_seed(os.urandom(32))
    issuer = Issuer("uni-1", issuer_did("http://127.0.0.1:8080", "uni-1"), "key-1", key, "")
    registry = [
        rev.AgencyCreated(agency_id="qqi", name="QQI", jurisdiction="IE", scope=rev.AccreditationScope()),
        rev.IssuerRegistered(issuer_id="uni-1", registered_by="qqi", legal_name="University One", country="IE",
                             did=issuer.did),
        rev.IssuerKeyAdded(issuer_id="uni-1", key_id="key-1", public_key_multibase=public_key_to_multibase(
            raw_public_key(key)), custody="hosted", valid_from=EPOCH),
        rev.AccreditationGranted(accreditation_id="acc", accreditor_id="qqi", subject_kind="issuer",
                                 subject_id="uni-1", scope=rev.AccreditationScope(eqf_levels=[6]), valid_from=EPOCH),
        rev.AchievementProposed(achievement_id="ach-1", issuer_id="uni-1", spec=sample_spec()),
        rev.AchievementApproved(achievement_id="ach-1", agency_id="qqi", at=EPOCH),
    ]
    issued = [issued_event(issuer, "ach-1", sign(issuer, build_document(
        issuer, "ach-1", email=f"l{i}@example.org", salt=f"salt{i}", credential_id=f"urn:uuid:{i:08d}")))
        for i in range(3)]
    revoked = cev.CredentialRevoked(credential_id="urn:uuid:00000001", reason_code="fraud", reason="copied")
    model = ReadModel()
    for event in recorded([*registry, *issued, revoked]):
        model.apply(event)
    return model, issued


def fresh_verifier(model: ReadModel) -> BatchVerifier:
    freshness = Freshness()
    freshness.caught_up.set()
    freshness.touch(model.position)
    return BatchVerifier(model, freshness, ContextLoader("https://ledger.example"))


def test_records_are_compact_and_carry_what_verdicts_need(world):
    model, issued = world
    record = model.credentials["urn:uuid:00000000"]
    assert record.document_hash.hex() == issued[0].document_hash
    # The read model keeps the learner hash's first 128 bits (credential_table.py says why).
    assert learner_matches(issued[0].learner_hash, record.learner_hash)
    assert not learner_matches(identity_hash("emailAddress", "someone@else.example", "salt0"), record.learner_hash)
    assert record.salt == "salt0"
    assert not hasattr(record, "__dict__")
    assert model.credentials["urn:uuid:00000001"].status == REVOKED
    assert model.notes["urn:uuid:00000001"].reason_code == "fraud"
    assert "copied" not in msgspec.json.encode(model.notes).decode()  # the free text is not kept


def test_snapshot_round_trip_gives_the_same_answers(world):
    model, _ = world
    copy = ReadModel()
    restore(copy, list(encode_chunks(model)))
    assert copy.position == model.position and copy.epoch == model.epoch
    items = [VerificationItem(id=f"urn:uuid:{i:08d}") for i in range(3)]
    now = int(time.time())
    assert fresh_verifier(copy).run(items, now=now).answers == fresh_verifier(model).run(items, now=now).answers


def test_fast_path_matches_the_general_path(world):
    model, _ = world
    verifier = fresh_verifier(model)
    now = int(time.time())
    for i in range(3):
        cid = f"urn:uuid:{i:08d}"
        fast = msgspec.json.decode(verifier.run([VerificationItem(id=cid)], now=now).answers[0])
        record = model.credentials[cid]
        checks = verifier.verdicts.checks(cid, record, now, ORIGIN_CHECKS[BY_ID], fresh=True)
        assert fast["verdict"] == verdict_of(checks)
        assert fast["checks"] == msgspec.to_builtins(checks)
        assert fast["summary"] == msgspec.to_builtins(verifier.verdicts.summary(record))


def test_registry_change_invalidates_cached_verdicts(world):
    model, _ = world
    verifier = fresh_verifier(model)
    item = [VerificationItem(id="urn:uuid:00000000")]
    assert verifier.run(item).counts["valid"] == 1
    [withdrawn] = recorded([rev.AccreditationWithdrawn(accreditation_id="acc", reason="x", at="2021-01-01T00:00:00Z")])
    model.apply(msgspec.structs.replace(withdrawn, position=model.position + 1))
    assert verifier.run(item).counts["invalid"] == 1


def test_registry_change_reaches_the_checks_shared_by_foreign_documents(world):
    model, issued = world
    verifier = fresh_verifier(model)
    # Ids the ledger never recorded (so their signatures fail too): checked as foreign documents.
    document = msgspec.json.decode(issued[0].document)
    items = [VerificationItem(credential=document | {"id": f"urn:uuid:f{i}"}) for i in range(2)]

    def checks(name: str) -> list[str]:
        return [next(c["reason"] for c in msgspec.json.decode(answer)["checks"] if c["check"] == name)
                for answer in verifier.run(items).answers]

    # The second document reuses the first one's registry checks.
    assert checks("issuer_accredited") == ["accredited_at_issue"] * 2
    assert checks("key_valid") == ["valid_at_signing"] * 2
    assert checks("signature") == ["bad_signature"] * 2
    [withdrawn] = recorded([rev.AccreditationWithdrawn(accreditation_id="acc", reason="x", at="2021-01-01T00:00:00Z")])
    model.apply(msgspec.structs.replace(withdrawn, position=model.position + 1))
    assert checks("issuer_accredited") == ["not_accredited_at_issue"] * 2


def test_freshness_requires_catch_up_contact_and_small_lag():
    freshness = Freshness(max_lag_events=10, max_silence_seconds=60)
    freshness.touch(100)
    assert not freshness.is_fresh(100)  # still replaying
    freshness.caught_up.set()
    assert freshness.is_fresh(95)
    assert not freshness.is_fresh(80)  # known to be 20 events behind
    freshness.last_contact -= 61
    assert not freshness.is_fresh(100)


def test_stale_model_never_says_valid(world):
    model, _ = world
    verifier = BatchVerifier(model, Freshness(), ContextLoader("https://ledger.example"))  # never caught up
    outcome = verifier.run([VerificationItem(id="urn:uuid:00000000"), VerificationItem(id="urn:uuid:99")])
    assert outcome.counts == {"valid": 0, "invalid": 0, "unknown": 2}


@pytest.mark.parametrize(("line", "columns", "expected"), [
    (b"urn:uuid:1", ["credential", "email"], VerificationItem(id="urn:uuid:1")),
    (b"urn:uuid:1,Ada@x.org", ["id", "email"],
     VerificationItem(id="urn:uuid:1", identity=Identity("emailAddress", "Ada@x.org"))),
    (b"a.b.c,,DE 123", ["credential", "email", "national_id"],
     VerificationItem(jwt="a.b.c", identity=Identity("nationalIdentityNumber", "DE 123"))),
])
def test_csv_rows(line, columns, expected):
    assert msgspec.to_builtins(parse_csv(line, columns)) == msgspec.to_builtins(expected)


def test_csv_and_ndjson_problems_and_headers():
    assert header_columns(b"Credential_ID, email") == ["credential_id", "email"]
    assert header_columns(b"urn:uuid:1,ada@x.org") is None
    assert isinstance(parse_csv(b",ada@x.org", ["id", "email"]), ItemProblem)
    assert parse_ndjson(b"{").status == 400
    assert parse_ndjson(b'{"id": 1}').status == 422
    answer = b'{"index":0,"id":"=HYPERLINK(1)","verdict":"invalid","checks":[{"check":"exists","status":"fail","reason":"not_found"}]}\n'
    assert csv_header().startswith(b"index,id,verdict")
    assert ndjson_to_csv(answer, [VerificationItem(id="=HYPERLINK(1)", identity=Identity("emailAddress", "@x"))]) == (
        b"0,'=HYPERLINK(1),invalid,exists:not_found,,,,,,exists: not found,,'@x,\r\n")


def test_a_flag_on_a_suspended_credential_keeps_it_suspended_as_the_fold_does(world):
    model, _ = world
    cause = cev.Cause(kind="component_revoked", ref="urn:uuid:00000001")
    changes = [cev.CredentialSuspended(credential_id="urn:uuid:00000002", reason_code="under_investigation", reason="audit"),
               cev.CredentialFlaggedForReview(credential_id="urn:uuid:00000002", reason="component", cause=cause)]
    for event in recorded(changes):
        model.apply(event)
    assert STATUSES[model.credentials["urn:uuid:00000002"].status] == "suspended"


def test_slices_are_sized_from_the_last_slice_of_the_same_kind_across_requests(world, monkeypatch):
    import asyncio

    from services.verification import batch

    model, issued = world
    verifier = fresh_verifier(model)
    sizes: list[int] = []
    run = verifier.run

    def recording_run(entries, first_index=0, now=None, *, plain=False):
        sizes.append(len(entries))
        return run(entries, first_index, now, plain=plain)

    monkeypatch.setattr(verifier, "run", recording_run)
    # A budget no slice of these items can reach: each slice is as large as allowed.
    monkeypatch.setattr(batch, "SLICE_SECONDS", (1000.0, 1000.0))
    ids = [VerificationItem(id=issued[i % 3].credential_id) for i in range(200)]
    documents = [VerificationItem(credential=msgspec.json.decode(issued[0].document) | {"id": f"urn:uuid:f{i}"})
                 for i in range(100)]

    first = asyncio.run(verifier.run_sliced(ids))
    assert sizes == [batch.FIRST_SLICE, 200 - batch.FIRST_SLICE]  # nothing measured yet for ids
    sizes.clear()
    second = asyncio.run(verifier.run_sliced(ids))
    assert sizes == [200]  # measured by the first request: one slice from the start
    # issued[1] is revoked: every third item.
    assert second.answers == first.answers and second.counts == first.counts == {"valid": 133, "invalid": 67,
                                                                                  "unknown": 0}
    sizes.clear()
    asyncio.run(verifier.run_sliced(documents))
    assert sizes == [batch.FIRST_SLICE, 100 - batch.FIRST_SLICE]  # documents are measured on their own


def test_plain_documents_get_the_answers_of_the_general_path(world):
    import asyncio

    from services.verification.handlers import decode_items

    model, issued = world
    verifier = fresh_verifier(model)
    as_issued = [msgspec.json.decode(event.document) for event in issued]
    foreign = [document | {"id": f"urn:uuid:f{i}"} for i, document in enumerate(as_issued)]
    body = msgspec.json.encode({"items": [{"credential": d} for d in as_issued + foreign]})
    entries, plain = asyncio.run(decode_items(body))
    assert plain
    now = int(time.time())
    assert verifier.run(entries, now=now, plain=True).answers == verifier.run(entries, now=now).answers
    # A float anywhere in the body: the documents are canonicalized the general way.
    with_float = [{"credential": as_issued[0] | {"credits": 5.0}}, {"credential": as_issued[2]}]  # [1] is revoked
    entries, plain = asyncio.run(decode_items(msgspec.json.encode({"items": with_float})))
    assert not plain
    assert [msgspec.json.decode(a)["verdict"] for a in verifier.run(entries, now=now).answers] == ["invalid", "valid"]
