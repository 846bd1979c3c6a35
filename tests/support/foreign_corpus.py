"""A read model and submitted documents covering every outcome of a
signature-checked verification: documents the ledger never recorded (valid,
forged, unknown or foreign key, wrong issuer, outside their window, keys
outside theirs, malformed proofs, did:key methods, with and without an
identity), tampered and as-issued ledger documents (one revoked), and JWTs.
For tests that compare two ways of answering them byte for byte."""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from services.verification.model import ReadModel
from shared.credential_format import issuer_did
from shared.crypto import jws
from shared.crypto.did_key import did_key_from_public_key, verification_method_id
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_seed
from shared.crypto.multibase import multibase_encode, public_key_to_multibase
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.events import registry as rev
from shared.ledger.eventstore.events import RecordedEvent
from tests.support.credentials_for_verification import build_document, issued_event, sign
from tests.support.world import EPOCH, Issuer, sample_spec

BASE = "http://127.0.0.1:8080"
# Key-2 of uni-0 may sign from this time on, key-1 of uni-2 was compromised at it.
LATER = "2025-01-01T00:00:00Z"


def recorded(events: list[Any]) -> list[RecordedEvent]:
    return [RecordedEvent(position=i, stream_id="s", version=1, event_type=e.event_type,
                          payload=msgspec.Raw(CATALOG.encode(e)), metadata=msgspec.Raw(b"{}"),
                          prev_hash=b"\0" * 32, hash=b"\0" * 32) for i, e in enumerate(events, 1)]


def _issuer(number: int, key_id: str = "key-1") -> Issuer:
    issuer_id = f"uni-{number}"
    key = signing_key_from_seed(bytes([number + 1]) * 32)
    return Issuer(issuer_id, issuer_did(BASE, issuer_id), key_id, key, "")


def public_key_of(number: int) -> str:
    """The Multikey of uni-<number>'s key-1."""
    return public_key_to_multibase(raw_public_key(_issuer(number).private_key))


def world() -> tuple[ReadModel, list[Issuer], Issuer, list[bytes]]:
    """The model (three issuers: uni-1 unaccredited, uni-2's key compromised at
    LATER, uni-0 with a second key from LATER), its issuers, one unregistered
    issuer, and the issued documents in the model (the second one revoked)."""
    issuers = [_issuer(n) for n in range(3)]
    second_key = _issuer(0, "key-2")
    second_key.private_key = signing_key_from_seed(b"\x77" * 32)
    events: list[Any] = [rev.AgencyCreated(agency_id="qqi", name="QQI", jurisdiction="IE",
                                           scope=rev.AccreditationScope())]
    for n, issuer in enumerate(issuers):
        events += [
            rev.IssuerRegistered(issuer_id=issuer.issuer_id, registered_by="qqi", legal_name=f"University {n}",
                                 country="IE", did=issuer.did),
            rev.IssuerKeyAdded(issuer_id=issuer.issuer_id, key_id="key-1", public_key_multibase=public_key_to_multibase(
                raw_public_key(issuer.private_key)), custody="hosted", valid_from=EPOCH),
            rev.AchievementProposed(achievement_id=f"ach-{n}", issuer_id=issuer.issuer_id, spec=sample_spec()),
            rev.AchievementApproved(achievement_id=f"ach-{n}", agency_id="qqi", at=EPOCH),
        ]
        if n != 1:
            events.append(rev.AccreditationGranted(
                accreditation_id=f"acc-{n}", accreditor_id="qqi", subject_kind="issuer", subject_id=issuer.issuer_id,
                scope=rev.AccreditationScope(eqf_levels=[6]), valid_from=EPOCH))
    events += [
        rev.IssuerKeyAdded(issuer_id="uni-0", key_id="key-2", public_key_multibase=public_key_to_multibase(
            raw_public_key(second_key.private_key)), custody="hosted", valid_from=LATER),
        rev.IssuerKeyCompromised(issuer_id="uni-2", key_id="key-1", compromised_at=LATER, reason="leaked"),
    ]
    issued = [sign(issuers[0], build_document(issuers[0], "ach-0", email=f"l{i}@example.org", salt=f"salt{i}",
                                              credential_id=f"urn:uuid:{i:08d}-0000-4000-8000-000000000000"))
              for i in range(2)]
    events += [issued_event(issuers[0], "ach-0", document) for document in issued]
    events.append(cev.CredentialRevoked(credential_id=issued[1]["id"], reason_code="fraud", reason="copied"))
    model = ReadModel()
    for event in recorded(events):
        model.apply(event)
    issuers.append(second_key)
    return model, issuers, _issuer(7), [msgspec.json.encode(d) for d in issued]


def _foreign(issuer: Issuer, n: int, created: str = "2024-06-01T10:00:00Z", **fields: Any) -> dict[str, Any]:
    achievement = fields.pop("achievement", f"ach-{issuer.issuer_id[-1]}")
    document = build_document(issuer, achievement, email=f"f{n}@example.org", salt="s",
                              credential_id=fields.pop("credential_id", f"urn:uuid:f{n:07d}"), **fields)
    return sign(issuer, document, created)


def _with(document: dict[str, Any], change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    change(changed)
    return changed


def items(model_issuers: list[Issuer], stranger: Issuer, issued: list[bytes]) -> list[dict[str, Any]]:
    """Request items (as JSON values) for every outcome; each also once with an identity."""
    uni0, uni1, uni2, uni0_key2 = model_issuers
    base = _foreign(uni0, 0)
    public = raw_public_key(uni0.private_key)
    # A method changed after signing; and one signed through the did:key of uni-0's registered key.
    did_key_doc = _with(base, lambda d: d["proof"].update(verificationMethod=verification_method_id(public)))
    did_key = did_key_from_public_key(public)
    did_key_issued = sign(Issuer("uni-0", did_key, did_key.removeprefix("did:key:"), uni0.private_key, ""),
                          {**{k: v for k, v in base.items() if k != "proof"}, "issuer": {"id": did_key}})
    documents = [
        base, _foreign(uni0, 1), _foreign(uni1, 2), _foreign(uni2, 3), _foreign(uni2, 4, created="2025-06-01T00:00:00Z"),
        _foreign(uni0_key2, 5), _foreign(uni0_key2, 6, created="2025-06-01T00:00:00Z"),
        _foreign(stranger, 7),
        _foreign(uni0, 8, valid_until="2025-01-01T00:00:00Z"),  # expired
        _foreign(uni0, 9, valid_from="2099-01-01T00:00:00Z"),  # not yet valid
        _foreign(uni0, 10, achievement="ach-9"), _foreign(uni0, 11, achievement="ach-1", title="Other"),
        _foreign(uni0, 12, credential_id="urn:uuid:00000000-0000-4000-8000-00000000ffff"),
        did_key_doc, did_key_issued,
        _with(base, lambda d: d.update(name="forged")),  # signature no longer matches
        _with(base, lambda d: d["proof"].update(proofValue=multibase_encode(bytes(64)))),
        _with(base, lambda d: d["proof"].update(proofValue="z0OIl")),
        _with(base, lambda d: d["proof"].update(proofValue="z" + "2" * 200)),
        _with(base, lambda d: d["proof"].update(verificationMethod=f"{uni0.did}#key-9")),  # unknown key
        _with(base, lambda d: d["proof"].update(verificationMethod=f"{stranger.did}#key-1")),
        _with(base, lambda d: d["proof"].update(verificationMethod=f"{uni1.did}#key-1")),  # another issuer's key
        _with(base, lambda d: d["proof"].update(verificationMethod="did:key:zNotAKey")),
        _with(base, lambda d: d["proof"].update(verificationMethod=verification_method_id(bytes(32)))),
        _with(base, lambda d: d.update(issuer={"id": uni1.did})),  # wrong issuer
        _with(base, lambda d: d.update(issuer=uni0.did)),
        _with(base, lambda d: d.update(issuer=7)),
        _with(base, lambda d: d["proof"].update(type="Ed25519Signature2018")),
        _with(base, lambda d: d["proof"].update(cryptosuite="ecdsa-jcs-2019")),
        _with(base, lambda d: d["proof"].update(proofPurpose="authentication")),
        _with(base, lambda d: d["proof"].update(created="yesterday")),
        _with(base, lambda d: d["proof"].pop("created")),
        _with(base, lambda d: [d["proof"].pop("created"), d.pop("validFrom")]),
        _with(base, lambda d: d["proof"].update({"@context": ["https://example.org/other"]})),
        _with(base, lambda d: d["proof"].pop("@context")),
        _with(base, lambda d: d["@context"].append("https://example.org/extra")),
        _with(base, lambda d: d["proof"].update(extra={"nested": [1, 2]})),
        _with(base, lambda d: d.update(proof=[d["proof"]])),
        _with(base, lambda d: d.update(proof=[d["proof"], d["proof"]])),
        _with(base, lambda d: d.update(proof=[d["proof"], {**d["proof"], "verificationMethod": f"{uni0.did}#k2"}])),
        _with(base, lambda d: d.update(proof="not a proof")),
        _with(base, lambda d: d.update(proof=[])),
        _with(base, lambda d: d.pop("proof")),
        _with(base, lambda d: d.pop("id")),
        _with(base, lambda d: d.update(id=5)),
        _with(base, lambda d: d.update(validUntil="not a time")),
        _with(base, lambda d: d.update(credits=5.0)),
        _with(base, lambda d: d["credentialSubject"].pop("achievement")),
        _with(base, lambda d: d.pop("credentialSubject")),
        msgspec.json.decode(issued[0]), msgspec.json.decode(issued[1]),
        _with(msgspec.json.decode(issued[0]), lambda d: d.update(name="tampered")),
        _with(msgspec.json.decode(issued[1]), lambda d: d.update(name="tampered")),
        _with(sign(uni1, build_document(uni1, "ach-1", email="l0@example.org", salt="salt0",
                                        credential_id="urn:uuid:00000000-0000-4000-8000-000000000000")),
              lambda d: None),  # a ledger id, signed by another issuer
    ]
    found: list[dict[str, Any]] = [{"credential": d} for d in documents]
    found += [{"credential": d, "identity": {"type": "emailAddress", "value": "f0@example.org"}} for d in documents[:14]]
    unsecured = {k: v for k, v in base.items() if k != "proof"}
    found += [
        {"jwt": jws.encode_vc_jws(unsecured, uni0.private_key, f"{uni0.did}#key-1")},
        {"jwt": jws.encode_vc_jws(unsecured, uni0.private_key, f"{uni1.did}#key-1")},
        {"jwt": jws.encode_vc_jws({k: v for k, v in msgspec.json.decode(issued[0]).items() if k != "proof"},
                                  uni0.private_key, f"{uni0.did}#key-1")},
    ]
    return found
