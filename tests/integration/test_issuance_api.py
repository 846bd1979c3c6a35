"""Issuing one credential over HTTP and fetching it back: the document is an
Open Badges 3.0 credential, both proofs of its proof set verify with
independent implementations, and its ledger event holds exactly its bytes."""

from __future__ import annotations

import hashlib
import json

from services.issuance.app import create_app
from services.issuance.status_entries import LIST_SIZE
from shared.credential_format import OB_CONTEXT, VC_CONTEXT, identity_hash
from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.jws import verify_vc_jws
from shared.events import registry as ev
from shared.events.credentials import CredentialIssued, credential_stream
from shared.jsonld.contexts import platform_context_url
from shared.ledger.eventstore.events import decode_payload
from tests.support import independent_rdfc
from tests.support.http import bearer, serving
from tests.support.issuance import issuance_rows, item, registry_caught_up, university
from tests.support.ledger import ledger_head
from tests.support.world import sample_spec


async def test_issue_one_fetch_it_and_verify_it_independently(settings, db):
    world, issuer, achievement_id = await university(db, settings, grading_scheme="A-F letter grades",
                                                    validity_days=365)
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        response = await client.post("/v1/credentials", headers=bearer(issuer.api_key), json=item(
            "SIS-0001", achievement_id, email="  Ada.Lovelace@Example.org ", issued_on="2026-06-30", grade="A",
            evidence=[{"url": "https://uni-1.example/portfolio/1", "narrative": "Six months of workplace learning",
                       "genre": "workplace learning"}]))
        assert response.status == 201, await response.text()
        issued = await response.json()
        credential_id = issued["credential_id"]
        assert credential_id.startswith("urn:uuid:") and issued["existing"] is False

        fetched = await client.get(f"/v1/credentials/{credential_id}", headers=bearer(issuer.api_key))
        assert fetched.status == 200 and fetched.content_type == "application/vc"
        raw = await fetched.read()
        document = json.loads(raw)

        # Both signatures check out with verifiers that share no code with the signer.
        both = {"eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}
        assert independent_rdfc.verify_proof_set(document, raw_public_key(issuer.private_key)) == both
        tampered = {**document, "validUntil": "2099-01-01T00:00:00Z"}
        assert not any(independent_rdfc.verify_proof_set(tampered, raw_public_key(issuer.private_key)).values())
        assert [p["verificationMethod"] for p in document["proof"]] == [f"{issuer.did}#{issuer.key_id}"] * 2

        # Open Badges 3.0 shape.
        assert document["@context"] == [VC_CONTEXT, OB_CONTEXT, platform_context_url(settings.public_base_url)]
        assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert document["issuer"]["id"] == issuer.did and document["issuer"]["type"] == ["Profile"]
        assert document["validFrom"] == "2026-06-30T00:00:00Z"
        assert document["validUntil"] == "2027-06-30T00:00:00Z"  # validity_days from the spec
        subject = document["credentialSubject"]
        [identity] = subject["identifier"]
        assert identity["identityType"] == "emailAddress" and identity["hashed"] is True
        assert identity["identityHash"] == identity_hash("emailAddress", "ada.lovelace@example.org", identity["salt"])
        assert identity["identityHash"] == issued["learner_hash"]
        assert "lovelace" not in raw.decode().lower()
        achievement = subject["achievement"]
        assert achievement["name"] == "Data Analysis with Python"
        assert achievement["criteria"]["narrative"] == "Pass a supervised practical assessment."
        assert achievement["creditsAvailable"] == 5 and achievement["fieldOfStudy"] == "0613"
        assert achievement["inLanguage"] == "en" and achievement["achievementType"] == "MicroCredential"
        skill = achievement["alignment"][0]
        assert skill["targetUrl"] == "http://data.europa.eu/esco/skill/abc" and skill["targetFramework"] == "ESCO"
        assert achievement["alignment"][1]["targetCode"] == "6"  # the EQF level
        assert achievement["euStandardElements"]["learningOutcomes"] == ["Clean a dataset",
                                                                          "Summarise data with group-by operations"]
        assert subject["result"] == [{"type": ["Result"], "value": "A",
                                      "resultDescription": achievement["resultDescription"][0]["id"]}]
        assert document["evidence"][0]["genre"] == "workplace learning"
        entry = document["credentialStatus"]
        assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
        assert isinstance(entry["statusListIndex"], str) and 0 <= int(entry["statusListIndex"]) < LIST_SIZE
        assert entry["statusListCredential"].startswith(settings.public_base_url + "/status-lists/")

        # The ledger holds the exact bytes served, their hash and the token's hash only.
        row = await db.fetchrow("SELECT position, payload FROM ledger.events WHERE stream_id = $1",
                                credential_stream(credential_id))
        assert row["position"] == issued["position"]
        event = decode_payload(bytes(row["payload"]), CredentialIssued)
        assert bytes(event.document) == raw
        assert event.document_hash == hashlib.sha256(raw).hexdigest()
        assert event.holder_token_hash == hashlib.sha256(issued["holder_token"].encode()).hexdigest()
        assert issued["holder_token"] not in bytes(row["payload"]).decode()
        assert event.issuer_reference == "SIS-0001" and event.signing == "hosted"


async def test_the_learner_link_and_the_jwt_export(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    other = await world.issuer("uni-2")
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        issued = await (await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                          json=item("SIS-1", achievement_id))).json()
        path = f"/v1/credentials/{issued['credential_id']}"

        by_holder = await client.get(path, params={"token": issued["holder_token"]})
        assert by_holder.status == 200
        assert (await client.get(path, params={"token": "not-the-token"})).status == 404
        assert (await client.get(path, headers=bearer(other.api_key))).status == 404
        assert (await client.get(path)).status == 401
        assert (await client.get("/v1/credentials/not-a-uuid", headers=bearer(issuer.api_key))).status == 400

        jwt = await client.get(path, params={"token": issued["holder_token"], "format": "jwt"})
        assert jwt.status == 200 and jwt.headers["Content-Type"] == "application/vc+jwt"  # no charset
        token = await jwt.text()
        assert verify_vc_jws(token, raw_public_key(issuer.private_key))
        assert not verify_vc_jws(token, raw_public_key(other.private_key))
        assert (await client.get(path, params={"token": issued["holder_token"], "format": "xml"})).status == 400


async def test_the_openapi_document_describes_every_route(settings, db):
    async with serving(create_app, settings) as client:
        spec = await (await client.get("/openapi.json")).json()
    assert {"/v1/credentials", "/v1/credentials/batch", "/v1/credentials/signed", "/v1/stacks",
            "/v1/credentials/{credential_id}", "/v1/learners/{learner_key}/pathways"} <= set(spec["paths"])
    batch = spec["paths"]["/v1/credentials/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("BatchRequest")
    assert spec["components"]["schemas"]["CredentialRequest"]["additionalProperties"] is False


async def test_nothing_is_written_for_a_rejected_single_request(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)
        response = await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                     json=item("SIS-1", achievement_id, email="not an email"))
        assert response.status == 422 and response.content_type == "application/problem+json"
        problem = await response.json()
        assert problem["type"].endswith("/learner-identity-invalid") and "not an email" in problem["detail"]
        assert await ledger_head(db) == head and await issuance_rows(db) == 0


async def test_the_registry_checks_refuse_what_the_issuer_may_not_issue_now(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    narrow = await world.issuer("uni-narrow", eqf_levels=[4, 5])
    level_six = await world.achievement(narrow)  # sample_spec is EQF level 6
    proposed = f"ach-proposed-{issuer.issuer_id}"
    await world._append(f"achievement:{proposed}", ev.AchievementProposed(
        achievement_id=proposed, issuer_id=issuer.issuer_id, spec=sample_spec()))
    retiring = await world.issuer("uni-retired")
    retired_achievement = await world.achievement(retiring)
    await world._append(f"issuer:{retiring.issuer_id}", ev.IssuerKeyRetired(
        issuer_id=retiring.issuer_id, key_id=retiring.key_id, valid_until="2021-01-01T00:00:00Z"))
    suspended = await world.issuer("uni-suspended")
    suspended_achievement = await world.achievement(suspended)
    await world._append(f"accreditation:acc-{suspended.issuer_id}", ev.AccreditationSuspended(
        accreditation_id=f"acc-{suspended.issuer_id}", reason="audit", at="2021-01-01T00:00:00Z"))
    cases = [
        (narrow, level_six, 403, "issuer-not-accredited"),
        (issuer, proposed, 409, "achievement-not-approved"),
        (retiring, retired_achievement, 409, "no-signing-key"),
        (suspended, suspended_achievement, 403, "issuer-not-accredited"),
    ]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)
        for who, achievement, status, slug in cases:
            response = await client.post("/v1/credentials", headers=bearer(who.api_key),
                                         json=item(f"R-{slug}", achievement))
            problem = await response.json()
            assert (response.status, problem["type"].rsplit("/", 1)[-1]) == (status, slug), problem
            assert who.issuer_id in problem["detail"] or achievement in problem["detail"]
        assert await ledger_head(db) == head and await issuance_rows(db) == 0
