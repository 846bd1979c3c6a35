"""Issuer-signed credentials: the university signs, the service checks the
proof against the registry's keys and the approved achievement, then records
it; forged or tampered submissions are refused and leave no trace."""

from __future__ import annotations

import copy
import json
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.issuance.app import create_app
from shared.credential_format import OB_CONTEXT, VC_CONTEXT, identity_hash
from shared.crypto import eddsa_jcs, eddsa_rdfc
from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.proof_set import ProofSetSigner
from shared.events import registry as ev
from shared.events.credentials import CredentialIssued, credential_stream
from shared.jsonld.contexts import ContextLoader
from shared.ledger.eventstore.events import decode_payload
from tests.support import independent_eddsa, independent_rdfc
from tests.support.http import bearer, serving
from tests.support.issuance import add_issuer_held_key, issuance_rows, registry_caught_up, university
from tests.support.ledger import ledger_head

CREATED = "2026-03-01T09:00:00Z"


def university_credential(settings, did: str, achievement_id: str, identity: dict) -> dict:
    """What a university's own system would produce (unsigned)."""
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": did, "type": ["Profile"], "name": "University uni-1"},
        "name": "Data Analysis with Python",
        "validFrom": "2026-03-01T00:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "hashed": True, "identityType": identity["identity_type"],
                            "identityHash": identity["learner_hash"], "salt": identity["salt"]}],
            "achievement": {"id": f"{settings.public_base_url}/achievements/{achievement_id}",
                            "type": ["Achievement"], "name": "Data Analysis with Python",
                            "description": "Analyse tabular data.", "criteria": {"narrative": "Pass."}},
        },
    }


GRACE = {"email": "grace@example.org"}


def signed_by(document: dict, key: Ed25519PrivateKey, method: str, created: str = CREATED) -> dict:
    return eddsa_jcs.sign(document, key, method, created)


async def test_an_issuer_signed_credential_is_verified_then_recorded(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    own_key = await add_issuer_held_key(world, issuer, "uni-key-2026", valid_from="2026-01-01T00:00:00Z")
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        identity = await (await client.post("/v1/learners/hash", headers=bearer(issuer.api_key),
                                            json={"learner": {"email": "grace@example.org"}})).json()
        document = signed_by(university_credential(settings, issuer.did, achievement_id, identity), own_key,
                             f"{issuer.did}#uni-key-2026")
        body = {"reference": "SIS-77", "credential": document, "learner": {"email": "grace@example.org"}}
        response = await client.post("/v1/credentials/signed", headers=bearer(issuer.api_key), json=body)
        assert response.status == 201, await response.text()
        recorded = await response.json()
        assert recorded["credential_id"] == document["id"] and recorded["learner_hash"] == identity["learner_hash"]
        assert recorded["learner_key"] == identity["learner_key"]

        fetched = await client.get(f"/v1/credentials/{document['id']}", params={"token": recorded["holder_token"]})
        served = json.loads(await fetched.read())
        assert served == document
        assert independent_eddsa.verify(served, raw_public_key(own_key))
        payload = await db.fetchval("SELECT payload FROM ledger.events WHERE stream_id = $1",
                                    credential_stream(document["id"]))
        event = decode_payload(bytes(payload), CredentialIssued)
        assert (event.signing, event.key_id, event.issuer_reference) == ("issuer_signed", "uni-key-2026", "SIS-77")
        assert [s.purpose for s in event.status] == ["revocation"]

        head = await ledger_head(db)
        again = await client.post("/v1/credentials/signed", headers=bearer(issuer.api_key), json=body)
        assert again.status == 200 and (await again.json())["position"] == recorded["position"]
        assert await ledger_head(db) == head


def rdfc_signed_by(document: dict, key: Ed25519PrivateKey, method: str, loader: ContextLoader) -> dict:
    return {**document, "proof": [eddsa_rdfc.sign(document, key, method, CREATED, loader)]}


async def test_an_rdfc_proof_or_a_proof_set_is_accepted_and_every_proof_must_hold(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    own_key = await add_issuer_held_key(world, issuer, "uni-key-2026", valid_from="2026-01-01T00:00:00Z")
    method, loader = f"{issuer.did}#uni-key-2026", ContextLoader(settings.public_base_url)
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        identity = await (await client.post("/v1/learners/hash", headers=bearer(issuer.api_key),
                                            json={"learner": {"email": "grace@example.org"}})).json()
        rdfc_only = rdfc_signed_by(university_credential(settings, issuer.did, achievement_id, identity),
                                   own_key, method, loader)
        proof_set = json.loads(ProofSetSigner(own_key, method, CREATED, loader).secure(
            university_credential(settings, issuer.did, achievement_id, identity)))
        half_forged = copy.deepcopy(proof_set)
        half_forged["proof"][1] = signed_by({k: v for k, v in proof_set.items() if k != "proof"},
                                            Ed25519PrivateKey.generate(), method)["proof"]
        # A context the platform does not bundle is refused, never fetched.
        unknown_context = copy.deepcopy(rdfc_only)
        unknown_context["@context"] = [*unknown_context["@context"], "https://contexts.example/anything"]
        head = await ledger_head(db)
        for reference, document, slug in (
                ("HALF", half_forged, "signature-invalid"),
                ("CTX", unknown_context, "credential-malformed")):
            response = await client.post("/v1/credentials/signed", headers=bearer(issuer.api_key),
                                         json={"reference": reference, "credential": document, "learner": GRACE})
            assert response.status == 422 and (await response.json())["type"].endswith("/" + slug), reference
        assert await ledger_head(db) == head
        for reference, document in (("RDFC", rdfc_only), ("SET", proof_set)):
            response = await client.post("/v1/credentials/signed", headers=bearer(issuer.api_key),
                                         json={"reference": reference, "credential": document, "learner": GRACE})
            assert response.status == 201, await response.text()
            assert independent_rdfc.verify_proof_set(document, raw_public_key(own_key)) == {
                p["cryptosuite"]: True for p in document["proof"]}
        assert await ledger_head(db) == head + 2


async def test_forged_tampered_and_out_of_window_submissions_write_nothing(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    own_key = await add_issuer_held_key(world, issuer, "k-now", valid_from="2026-01-01T00:00:00Z")
    old_key = await add_issuer_held_key(world, issuer, "k-old", valid_from="2020-01-01T00:00:00Z",
                                        valid_until="2021-01-01T00:00:00Z")
    stolen_key = await add_issuer_held_key(world, issuer, "k-stolen", valid_from="2020-01-01T00:00:00Z")
    await world._append(f"issuer:{issuer.issuer_id}", ev.IssuerKeyCompromised(
        issuer_id=issuer.issuer_id, key_id="k-stolen", compromised_at="2026-05-01T00:00:00Z", reason="laptop lost"))
    other = await world.issuer("uni-2")
    foreign_achievement = await world.achievement(other)
    salt = "0f" * 16
    grace = identity_hash("emailAddress", "grace@example.org", salt)
    identity = {"identity_type": "emailAddress", "learner_hash": grace, "salt": salt}
    unsigned = university_credential(settings, issuer.did, achievement_id, identity)
    method = f"{issuer.did}#k-now"

    tampered = signed_by(unsigned, own_key, method)
    tampered["name"] = "Doctor of Everything"
    unhashed = copy.deepcopy(unsigned)
    unhashed["credentialSubject"]["identifier"][0].update(hashed=False, identityHash="grace@example.org")
    foreign = copy.deepcopy(unsigned)
    foreign["credentialSubject"]["achievement"]["id"] = f"{settings.public_base_url}/achievements/{foreign_achievement}"
    impostor = copy.deepcopy(unsigned)
    impostor["issuer"] = {"id": other.did, "type": ["Profile"]}
    someone_else = copy.deepcopy(unsigned)
    someone_else["credentialSubject"]["identifier"][0]["identityHash"] = "sha256$" + "ab" * 32
    cases = {
        "forged": (signed_by(unsigned, Ed25519PrivateKey.generate(), method), "signature-invalid"),
        "tampered": (tampered, "signature-invalid"),
        "key outside its window": (signed_by(unsigned, old_key, f"{issuer.did}#k-old"), "key-outside-validity"),
        "compromised key": (signed_by(unsigned, stolen_key, f"{issuer.did}#k-stolen", "2026-01-01T00:00:00Z"),
                            "key-compromised"),
        "hosted key named": (signed_by(unsigned, issuer.private_key, f"{issuer.did}#key-1"), "unknown-signing-key"),
        "unknown key": (signed_by(unsigned, own_key, f"{issuer.did}#k-nope"), "unknown-signing-key"),
        "created in the future": (signed_by(unsigned, own_key, method, "2999-01-01T00:00:00Z"), "proof-in-future"),
        "another issuer's achievement": (signed_by(foreign, own_key, method), "achievement-of-another-issuer"),
        "another issuer named": (signed_by(impostor, own_key, method), "issuer-mismatch"),
        "plain identity": (signed_by(unhashed, own_key, method), "credential-malformed"),
        "another learner hashed": (signed_by(someone_else, own_key, method), "learner-identity-mismatch"),
        "no proof": (unsigned, "credential-malformed"),
        "not a badge": ({**signed_by(unsigned, own_key, method), "type": ["VerifiableCredential"]},
                        "credential-malformed"),
    }
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)
        for name, (document, slug) in cases.items():
            response = await client.post("/v1/credentials/signed", headers=bearer(issuer.api_key),
                                         json={"reference": f"REF-{name}", "credential": document,
                                               "learner": {"email": "grace@example.org"}})
            problem = await response.json()
            assert 400 <= response.status < 500 and problem["type"].endswith("/" + slug), (name, problem)
        assert await ledger_head(db) == head and await issuance_rows(db) == 0
