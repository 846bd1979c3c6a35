"""Credentials issued before proof sets (one eddsa-jcs-2022 proof object, two
status entries) keep verifying beside new ones, in the verification
service's batch path: as issued, and as documents the ledger never saw."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import msgspec
import pytest

from services.verification.batch import BatchVerifier
from services.verification.freshness import Freshness
from services.verification.model import ReadModel
from services.verification.schemas import VerificationItem
from shared.crypto import proof_set
from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.multibase import public_key_to_multibase
from shared.events import registry as rev
from shared.jsonld.contexts import ContextLoader
from tests.support import independent_eddsa
from tests.support.credentials_for_verification import issued_event
from tests.support.world import EPOCH, Issuer, sample_spec
from tests.unit.test_issuance_signing import BASE, DID, KEY, draft, signed
from tests.unit.test_verification_model import recorded

STORED = Path(__file__).resolve().parent.parent / "vectors" / "credledger" / "issued-before-proof-sets.json"
ISSUER = Issuer("uni-1", DID, "key-1", KEY, "")


def old_document() -> dict:
    return json.loads(STORED.read_text())


def new_document(n: int = 8) -> dict:
    [event] = signed([draft(n, grade="B")], grading_scheme="A-F")
    return json.loads(bytes(event.document))


def test_the_stored_old_credential_has_the_old_shape_and_verifies():
    document = old_document()
    assert isinstance(document["proof"], dict) and document["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert [s["statusPurpose"] for s in document["credentialStatus"]] == ["revocation", "suspension"]
    loader = ContextLoader(BASE)
    assert proof_set.verify(document, raw_public_key(KEY), loader)
    assert independent_eddsa.verify(document, raw_public_key(KEY))
    assert not proof_set.verify({**document, "name": "Changed"}, raw_public_key(KEY), loader)


def verifier(*in_ledger: dict) -> BatchVerifier:
    registry = [
        rev.AgencyCreated(agency_id="qqi", name="QQI", jurisdiction="IE", scope=rev.AccreditationScope()),
        rev.IssuerRegistered(issuer_id="uni-1", registered_by="qqi", legal_name="University One", country="IE",
                             did=DID),
        rev.IssuerKeyAdded(issuer_id="uni-1", key_id="key-1", public_key_multibase=public_key_to_multibase(
            raw_public_key(KEY)), custody="hosted", valid_from=EPOCH),
        rev.AccreditationGranted(accreditation_id="acc", accreditor_id="qqi", subject_kind="issuer",
                                 subject_id="uni-1", scope=rev.AccreditationScope(), valid_from=EPOCH),
        rev.AchievementProposed(achievement_id="ach-1", issuer_id="uni-1", spec=sample_spec()),
        rev.AchievementApproved(achievement_id="ach-1", agency_id="qqi", at=EPOCH),
    ]
    model = ReadModel()
    for event in recorded([*registry, *(issued_event(ISSUER, "ach-1", d) for d in in_ledger)]):
        model.apply(event)
    freshness = Freshness()
    freshness.caught_up.set()
    freshness.touch(model.position)
    return BatchVerifier(model, freshness, ContextLoader(BASE))


def checks_of(verifier: BatchVerifier, document: dict) -> dict[str, str]:
    [answer] = verifier.run([VerificationItem(credential=document)]).answers
    return {check["check"]: check["reason"] for check in msgspec.json.decode(answer)["checks"]}


@pytest.mark.parametrize("make", [old_document, new_document], ids=["old shape", "proof set"])
def test_both_shapes_verify_as_issued_and_as_documents_the_ledger_never_saw(make):
    document = make()
    assert checks_of(verifier(document), document)["integrity"] == "matches_ledger"
    foreign = checks_of(verifier(), document)
    assert (foreign["signature"], foreign["integrity"]) == ("proof_verified", "proof_verified")
    tampered = {**document, "name": "A better title"}
    assert checks_of(verifier(document), tampered)["signature"] == "bad_signature"
    assert checks_of(verifier(), tampered)["signature"] == "bad_signature"


def test_a_proof_set_fails_when_either_proof_is_broken():
    document = new_document()
    for which in (0, 1):
        broken = copy.deepcopy(document)
        broken["proof"][which]["created"] = "2026-06-30T12:00:01Z"
        assert checks_of(verifier(), broken)["signature"] == "bad_signature", which
