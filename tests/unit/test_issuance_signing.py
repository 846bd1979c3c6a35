"""The issuance signer against the W3C eddsa-jcs-2022 vectors and an
independent verifier; the credential document's Open Badges shape."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from services.issuance.document import (
    Particulars,
    Template,
    assemble,
    evidence_objects,
    identity_object,
    status_object,
    template_for,
)
from services.issuance.learners import Learner, LearnerKeys, LearnerSecrets
from services.issuance.schemas import EvidenceItem, LearnerIdentity
from services.issuance.signing import (
    Draft,
    SigningJob,
    encode_issued,
    pack_drafts,
    seed_of,
    sign_job,
    unpack_drafts,
)
from shared.crypto import eddsa_jcs
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_multibase
from shared.crypto.jcs import canonicalize
from shared.events import CATALOG
from shared.events import registry as ev
from shared.events.credentials import CredentialIssued, StatusEntry
from shared.ledger.eventstore.events import decode_payload
from shared.ob3_objects import achievement_object
from shared.registry_state import Achievement, Issuer
from tests.support import independent_eddsa, independent_rdfc
from tests.support.world import sample_spec

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "eddsa"
BASE = "https://ledger.example"
MASTER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY = signing_key_from_multibase(json.loads((VECTORS / "keyPair.json").read_text())["privateKeyMultibase"])
DID = "did:web:ledger.example:issuers:uni-1"
METHOD = f"{DID}#key-1"
CREATED = "2026-06-30T12:00:00Z"


def the_issuer() -> Issuer:
    return Issuer(ev.IssuerRegistered(issuer_id="uni-1", registered_by="qqi", legal_name="University One",
                                      country="IE", did=DID, homepage="https://uni-1.example"))


def the_achievement(**spec: object) -> Achievement:
    return Achievement("ach-1", "uni-1", sample_spec(**spec), status="approved")


@functools.cache
def learner(n: int) -> Learner:
    # Cached: every call draws a fresh salt, and a test compares two drafts of one learner.
    return LearnerSecrets(MASTER_KEY, LearnerKeys(MASTER_KEY)).learner(LearnerIdentity(email=f"learner{n}@example.org"))


def draft(n: int, **extra: object) -> Draft:
    learner_n = learner(n)
    return Draft(f"urn:uuid:00000000-0000-4000-8000-{n:012d}", f"SIS-{n}", learner_n, "2026-06-30T00:00:00Z", None,
                 "ab" * 32, **extra)  # type: ignore[arg-type]


def status(n: int) -> list[StatusEntry]:
    return [StatusEntry(purpose="revocation", list_id="uni-1.revocation.a", index=1000 + n)]


def particulars(n: int, **extra: object) -> Particulars:
    made = draft(n, **extra)
    return Particulars(made.credential_id, made.valid_from, made.valid_until, identity_object(made.learner),
                       status_object(BASE, status(n)[0]), made.grade, made.evidence)


def signed(drafts: list[Draft], **spec: object) -> list[CredentialIssued]:
    """Sign drafts numbered 0..n-1 with their status entries."""
    return issued(sign_job(job(drafts, **spec), [status(n) for n in range(len(drafts))]))


def job(drafts: list[Draft], **spec: object) -> SigningJob:
    return SigningJob(seed_of(KEY), METHOD, CREATED, template(**spec), BASE, "uni-1", "ach-1", "key-1", drafts)


def issued(payloads: list[bytes]) -> list[CredentialIssued]:
    return [decode_payload(payload, CredentialIssued) for payload in payloads]


def template(**spec: object) -> Template:
    return template_for(the_issuer(), the_achievement(**spec), {}, BASE)


def test_the_independent_verifier_accepts_the_w3c_vector_and_nothing_else():
    signed = json.loads((VECTORS / "eddsa-jcs-2022" / "signedJCS.json").read_text())
    public_key = independent_eddsa.public_key_from_multikey(
        json.loads((VECTORS / "keyPair.json").read_text())["publicKeyMultibase"])
    assert independent_eddsa.verify(signed, public_key)
    for path, value in ((("credentialSubject", "alumniOf"), "Another University"),
                        (("proof", "created"), "2024-01-01T00:00:00Z"),
                        (("issuer",), "did:example:someone-else")):
        tampered = copy.deepcopy(signed)
        target = tampered
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert not independent_eddsa.verify(tampered, public_key), path


def test_a_signing_job_signs_a_proof_set_and_records_the_exact_bytes():
    signing = job([draft(n, grade="B") for n in range(5)], grading_scheme="A-F")
    events = signed(signing.drafts, grading_scheme="A-F")
    for n, (item, event) in enumerate(zip(signing.drafts, events, strict=True)):
        document = bytes(event.document)
        parsed = json.loads(document)
        assert canonicalize(parsed) == document
        assert {k: v for k, v in parsed.items() if k != "proof"} == json.loads(
            canonicalize(assemble(signing.template, particulars(n, grade="B"))))
        assert event.document_hash == hashlib.sha256(document).hexdigest()
        assert (event.credential_id, event.issuer_reference, event.learner_hash) == (
            item.credential_id, item.reference, item.learner.learner_hash)
        assert (event.issued_at, event.key_id, event.status) == (CREATED, "key-1", status(n))
        assert independent_rdfc.verify_proof_set(parsed, raw_public_key(KEY)) == {
            "eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}
        for proof, suite in zip(parsed["proof"], ("eddsa-rdfc-2022", "eddsa-jcs-2022"), strict=True):
            assert proof == {**proof, "type": "DataIntegrityProof", "cryptosuite": suite,
                             "proofPurpose": "assertionMethod", "verificationMethod": METHOD, "created": CREATED}


def test_each_credential_of_a_job_has_its_own_signatures():
    documents = [json.loads(bytes(e.document)) for e in signed([draft(0), draft(1)])]
    for which in (0, 1):
        values = [d["proof"][which]["proofValue"] for d in documents]
        assert values[0] != values[1]
        swapped = copy.deepcopy(documents[0])
        swapped["proof"][which]["proofValue"] = values[1]
        outcomes = independent_rdfc.verify_proof_set(swapped, raw_public_key(KEY))
        assert list(outcomes.values()) == [which != 0, which != 1]


def test_the_achievement_carries_the_eu_standard_elements():
    spec = dict(prerequisites=["Basic Python"], identity_check="photo id at the exam", grading_scheme="A-F",
                framework_id="nfq", level_code="8", image="https://uni-1.example/badge.png",
                achievement_type="Short Course")
    framework = ev.FrameworkPublished(framework_id="nfq", agency_id="qqi", name="Irish NFQ", credit_system="ECTS",
                                      levels=[ev.FrameworkLevel(code="8", title="Honours Bachelor", eqf_level=6)])
    body = achievement_object(the_achievement(**spec), {"nfq": framework}, BASE)
    assert body["id"] == f"{BASE}/achievements/ach-1" and body["type"] == ["Achievement"]
    assert body["achievementType"] == "ext:ShortCourse"
    assert body["creditsAvailable"] == 5.0 and body["fieldOfStudy"] == "0613" and body["inLanguage"] == "en"
    assert body["image"] == {"id": "https://uni-1.example/badge.png", "type": "Image"}
    targets = {a["targetFramework"]: a for a in body["alignment"]}
    assert targets["ESCO"]["targetUrl"] == "http://data.europa.eu/esco/skill/abc"
    assert targets["European Qualifications Framework"]["targetUrl"] == "http://data.europa.eu/snb/eqf/6"
    assert targets["Irish NFQ"]["targetName"] == "Honours Bachelor"
    elements = body["euStandardElements"]
    assert elements["workload"] == {"ects": 5.0, "hours": 125.0}
    assert elements["country"] == "IE" and elements["participationForm"] == "online"
    assert elements["assessmentType"] == "supervised practical exam"
    assert elements["qualityAssurance"] == "QQI institutional review"
    assert elements["prerequisites"] == ["Basic Python"] and elements["identityCheck"] == "photo id at the exam"
    assert body["resultDescription"][0]["name"] == "A-F"


def test_the_credential_names_the_learner_only_by_a_salted_hash():
    document = assemble(template(), particulars(7, grade="B", evidence=tuple(evidence_objects([
        EvidenceItem(url="https://uni-1.example/e/1", narrative="Placement at Acme", genre="workplace learning")]))))
    text = canonicalize(document).decode()
    assert "learner7@example.org" not in text
    [identity] = document["credentialSubject"]["identifier"]
    assert identity["type"] == "IdentityObject" and identity["hashed"] is True
    assert identity["identityHash"].startswith("sha256$") and len(identity["salt"]) == 32
    assert document["evidence"] == [{"type": ["Evidence"], "id": "https://uni-1.example/e/1",
                                     "narrative": "Placement at Acme", "genre": "workplace learning"}]
    assert document["credentialStatus"] == {
        "id": f"{BASE}/status-lists/uni-1.revocation.a#1007", "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "1007",
        "statusListCredential": f"{BASE}/status-lists/uni-1.revocation.a"}
    assert document["awardedDate"] == document["validFrom"] and "validUntil" not in document


@pytest.mark.parametrize("count", [1, 3])
def test_signed_documents_survive_a_json_round_trip(count):
    for event in signed([draft(n) for n in range(count)]):
        document = bytes(event.document)
        assert canonicalize(json.loads(document)) == document  # already in RFC 8785 form


def test_drafts_cross_to_the_signing_processes_unchanged():
    drafts = [draft(n, grade="B", evidence=({"id": "https://uni-1.example/e", "type": ["Evidence"]},))
              for n in range(3)] + [draft(3)]
    assert unpack_drafts(pack_drafts(drafts)) == drafts


def test_jcs_only_signing_gives_the_former_single_proof_bytes():
    signing_job = replace(job([draft(n) for n in range(3)]), jcs_only=True)
    entries = [status(n) for n in range(3)]
    for n, event in enumerate(issued(sign_job(signing_job, entries))):
        unsigned = assemble(signing_job.template, particulars(n))
        assert bytes(event.document) == canonicalize(eddsa_jcs.sign(unsigned, KEY, METHOD, CREATED))


def test_signing_encodes_the_event_as_the_catalog_does():
    evidence = ({"id": "https://uni-1.example/e", "type": ["Evidence"], "name": 'quote " \\ ünï \u2028'},)
    drafts = [draft(0, grade="B", evidence=evidence), draft(1), draft(2, grade="Ä\n")]
    for payload in sign_job(job(drafts), [status(n) for n in range(3)]):
        event = decode_payload(payload, CredentialIssued)
        assert payload == encode_issued(event) == CATALOG.encode(event)
        assert payload.startswith(b'{"_class_version":2,')
