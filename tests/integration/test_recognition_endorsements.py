"""Workplace learning: an employer registered as an endorser signs an OB 3.0
EndorsementCredential (the platform's proof set, the endorsement schema,
`valid` from the verification service), and an issuer's recognition of
prior learning is an assessed credential of its own that cites it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from services.issuance.app import create_app as issuance_app
from services.registry.app import create_app as registry_app
from services.verification.app import create_app as verification_app
from shared.crypto.eddsa_jcs import raw_public_key
from tests.support import independent_rdfc
from tests.support.credentials_for_verification import serving_ready
from tests.support.http import bearer, serving
from tests.support.issuance import item, registry_caught_up
from tests.support.ledger import ledger_head
from tests.support.portable import SCHEMA
from tests.support.recognition import post
from tests.support.waiting import eventually, running_relay
from tests.support.world import World

ENDORSEMENT_SCHEMA = Path(__file__).resolve().parents[1] / "vectors" / "openbadges" / "schema" / \
    "endorsementcredential.json"


async def test_an_employer_endorses_workplace_learning_and_the_rpl_cites_it(settings, db):
    world = World(db, settings)
    await world.agency("qqi", "IE")
    university = await world.issuer("uni-ie")
    module = await world.achievement(university, title="Data Engineering in Practice")
    rpl = await world.achievement(university, title="Data Engineering (recognition of prior learning)",
                                  achievement_type="Assessment", prior_learning_recognised=True)
    employer = await world.issuer("acme", accredited=False)  # a profile with a did:web and a hosted key
    employer_key = await world.client("employer", "acme")
    stranger_key = await world.client("employer", "globex")
    qqi_key = await world.client("agency_admin", "qqi")
    async with serving(registry_app, settings) as registry, running_relay(settings), \
            serving(issuance_app, settings) as issuance, serving_ready(verification_app, settings) as verification:
        registered = await post(registry, "/v1/endorsers", qqi_key, {"endorser_id": "acme"}, 201)
        assert registered["endorser"]["agency_id"] == "qqi"
        assert (await (await registry.get("/v1/endorsers/acme")).json())["endorser_id"] == "acme"
        await registry_caught_up(issuance, db)
        placement = await post(issuance, "/v1/credentials", university.api_key,
                               item("P-1", module, email="ada@example.org"), 201)

        head = await ledger_head(db)
        body = {"subject_id": placement["credential_id"], "name": "Placement endorsement",
                "comment": "Ada built and ran our data pipelines for six months to the module's outcomes."}
        refused = await issuance.post("/v1/endorsements", headers=bearer(stranger_key), json=body)
        assert refused.status == 403 and (await refused.json())["type"].endswith("/not-an-endorser")
        assert await ledger_head(db) == head
        endorsed = await post(issuance, "/v1/endorsements", employer_key, body, 201)
        record = await post(issuance, "/v1/endorsements", employer_key, {
            "subject_id": "https://acme.example/placements/2026/ada",
            "comment": "Six-month data engineering placement, supervised by our lead engineer."}, 201)

        schema = jsonschema.Draft201909Validator(json.loads(ENDORSEMENT_SCHEMA.read_text()))
        for document in (endorsed["endorsement"], record["endorsement"]):
            assert [f"{e.json_path}: {e.message}" for e in schema.iter_errors(document)] == []
            assert document["type"] == ["VerifiableCredential", "EndorsementCredential"]
            assert document["issuer"]["id"] == employer.did
            assert independent_rdfc.verify_proof_set(document, raw_public_key(employer.private_key)) == {
                "eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}
        assert endorsed["endorsement"]["credentialSubject"]["id"] == placement["credential_id"]

        async def verdict(credential_id):
            answer = await (await verification.get(f"/v1/credentials/{credential_id}/verification")).json()
            return answer if answer.get("verdict") == "valid" else None

        answer = await eventually(lambda: verdict(endorsed["credential_id"]), timeout=10)
        assert {c["check"]: c["reason"] for c in answer["checks"]}["issuer_accredited"] == "registered_endorser"

        # The university's RPL: an assessed credential of its own, citing the endorsement as evidence.
        assessed = await post(issuance, "/v1/credentials", university.api_key, item(
            "RPL-1", rpl, email="ada@example.org", evidence=[{
                "url": endorsed["credential_id"], "name": "Employer endorsement of workplace learning",
                "genre": "Recognition of prior learning",
                "description": "Assessed against the module's outcomes: design, build and operate a data pipeline",
                "narrative": "Portfolio and interview assessed by the programme board, 2026-06"}]), 201)
        document = json.loads(await (await issuance.get(f"/v1/credentials/{assessed['credential_id']}",
                                                        params={"token": assessed["holder_token"]})).read())
        assert document["credentialSubject"]["achievement"]["achievementType"] == "Assessment"
        [evidence] = document["evidence"]
        assert evidence["id"] == endorsed["credential_id"] and evidence["genre"] == "Recognition of prior learning"
        validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
        assert [e.message for e in validator.iter_errors(document)] == []
