"""POST /v1/verifications end to end: real HTTP, Postgres and (through the
in-process relay) Kafka. Each check has a case that passes and one that fails."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import os

import msgspec
import pytest

from services.verification.app import create_app
from services.verification.projection import ReadModelOptions
from shared.credential_format import issuer_did
from shared.crypto.eddsa_jcs import signing_key_from_seed
from shared.events import credentials as cev
from shared.events import registry as rev
from shared.ledger.eventstore.store import NewEvent
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support.credentials_for_verification import (
    build_document,
    build_scene,
    change_status,
    eventually,
    issue,
    relay_running,
    serving_ready,
    sign,
)
from tests.support.http import bearer
from tests.support.world import ADMIN, Issuer

FAST = ReadModelOptions(idle_check_interval=0.2, max_silence_seconds=1.5, retry_interval=0.3)
app_factory = functools.partial(create_app, options=FAST)
CHECK_ORDER = ["exists", "integrity", "signature", "issuer_accredited", "key_valid", "status",
               "validity_window", "stack_components"]


async def verify(client, key, *items, status=200):
    response = await client.post("/v1/verifications", json={"items": list(items)}, headers=bearer(key))
    assert response.status == status, await response.text()
    return await response.json(content_type=None)


def checks_of(result) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["status"], c["reason"]) for c in result["checks"]}


async def until_verdict(client, key, item, verdict, check=None, reason=None):
    """The item's answer once it has `verdict` (and `check` has `reason`)."""
    async def probe():
        result = (await verify(client, key, item))["results"][0]
        reached = result["verdict"] == verdict and (check is None or checks_of(result)[check][1] == reason)
        return result if reached else None
    return await eventually(probe)


@pytest.fixture
async def scene(db, settings):
    return await build_scene(db, settings)


async def test_by_id_is_valid_with_every_check_and_a_summary(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings) as client:
        body = await verify(client, scene.employer_key, {"id": issued.credential_id})
        result = body["results"][0]
        assert result["verdict"] == "valid", result
        assert [c["check"] for c in result["checks"]] == CHECK_ORDER
        assert all(c["status"] == "pass" for c in result["checks"])
        assert result["summary"] == {
            "title": "Data Analysis with Python", "issuer": "University uni-1", "achievement_type": "MicroCredential",
            "eqf_level": 6, "credits_ects": 5.0, "hours": 125.0, "skills": ["data analysis"], "issued_on": "2025-06-01",
        }
        assert body["counts"] == {"valid": 1, "invalid": 0, "unknown": 0}
        assert body["as_of_position"] == await scene.ledger.head_position()
        metrics = await (await client.get("/metrics")).text()
        assert 'verification_items_total{verdict="valid"} 1.0' in metrics


def today() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%d}"

async def test_revocation_suspension_and_reinstatement_arrive_through_kafka(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    item = {"id": issued.credential_id}
    async with relay_running(settings), serving_ready(app_factory, settings) as client:
        await until_verdict(client, scene.employer_key, item, "valid")
        await change_status(scene.ledger, scene.issuer, issued.credential_id, cev.CredentialSuspended,
                            reason_code="under_investigation", reason="exam board review")
        suspended = await until_verdict(client, scene.employer_key, item, "invalid")
        assert checks_of(suspended)["status"] == ("fail", "suspended")
        await change_status(scene.ledger, scene.issuer, issued.credential_id, cev.CredentialReinstated,
                            reason_code="other", reason="cleared")
        await until_verdict(client, scene.employer_key, item, "valid")
        await change_status(scene.ledger, scene.issuer, issued.credential_id, cev.CredentialRevoked,
                            reason_code="fraud", reason="impersonation at the exam")
        revoked = await until_verdict(client, scene.employer_key, item, "invalid")
        status = next(c for c in revoked["checks"] if c["check"] == "status")
        assert status == {"check": "status", "status": "fail", "reason": "revoked",
                          "detail": f"revoked by the issuer on {today()}; reason: fraud"}
        assert "impersonation" not in json.dumps(revoked)  # an employer sees the category only


async def test_document_as_issued_is_authentic_and_tampering_is_caught(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    tampered = copy.deepcopy(issued.document)
    tampered["credentialSubject"]["achievement"]["name"] = "Brain Surgery"
    reordered = dict(reversed(list(issued.document.items())))  # same content, other key order
    async with serving_ready(app_factory, settings) as client:
        body = await verify(client, scene.employer_key, {"credential": issued.document}, {"credential": tampered},
                            {"credential": reordered})
        as_issued, edited, same = body["results"]
        assert as_issued["verdict"] == "valid"
        assert checks_of(as_issued)["integrity"] == ("pass", "matches_ledger")
        assert edited["verdict"] == "invalid"
        assert checks_of(edited)["integrity"] == ("fail", "differs_from_ledger")
        assert checks_of(edited)["signature"] == ("fail", "bad_signature")
        assert same["verdict"] == "valid"


async def test_foreign_document_of_a_registered_issuer_has_its_signature_checked(settings, scene):
    # Signed by the registered issuer's key, but never recorded in this ledger.
    foreign = sign(scene.issuer, build_document(scene.issuer, scene.achievement_id, email="bo@example.org",
                                                salt="s4lt", credential_id="urn:uuid:11111111-2222-4333-8444-555555555555"))
    forged = copy.deepcopy(foreign)
    forged["validFrom"] = "2020-01-01T00:00:00Z"
    async with serving_ready(app_factory, settings) as client:
        genuine, altered = (await verify(client, scene.employer_key, {"credential": foreign},
                                         {"credential": forged}))["results"]
        checks = checks_of(genuine)
        assert checks["signature"] == ("pass", "proof_verified")
        assert checks["issuer_accredited"] == ("pass", "accredited_at_issue")
        assert checks["key_valid"] == ("pass", "valid_at_signing")
        assert checks["exists"] == ("unknown", "not_in_ledger")
        assert genuine["verdict"] == "unknown"  # its status cannot be known here: never `valid`
        assert checks_of(altered)["signature"] == ("fail", "bad_signature")
        assert altered["verdict"] == "invalid"


async def test_unregistered_issuer_and_unknown_id_are_invalid(settings, scene):
    stranger = Issuer("rogue-u", issuer_did(settings.public_base_url, "rogue-u"), "key-1",
                      signing_key_from_seed(os.urandom(32)), "")
    rogue = sign(stranger, build_document(stranger, scene.achievement_id, email="x@example.org", salt="s",
                                          credential_id="urn:uuid:99999999-2222-4333-8444-555555555555"))
    async with serving_ready(app_factory, settings) as client:
        body = await verify(client, scene.employer_key, {"credential": rogue},
                            {"id": "urn:uuid:00000000-0000-4000-8000-000000000000"})
        from_rogue, unknown_id = body["results"]
        assert from_rogue["verdict"] == "invalid"
        assert checks_of(from_rogue)["issuer_accredited"] == ("fail", "issuer_unknown")
        assert checks_of(from_rogue)["signature"] == ("fail", "issuer_unknown")
        assert unknown_id["verdict"] == "invalid"
        assert checks_of(unknown_id)["exists"] == ("fail", "not_found")


async def test_jwt_is_verified_with_the_key_its_kid_names(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    token = issued.jwt(scene.issuer)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload[:-4]}AAAA.{signature}"
    async with serving_ready(app_factory, settings) as client:
        body = await verify(client, scene.employer_key, {"jwt": token}, {"jwt": forged}, {"jwt": "not-a-jws"})
        good, bad, malformed = body["results"]
        assert good["verdict"] == "valid", good
        assert checks_of(good)["signature"] == ("pass", "jws_verified")
        assert bad["verdict"] != "valid"
        assert malformed["problem"]["status"] == 422 and malformed["verdict"] == "unknown"


async def test_identity_match_and_mismatch(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="Ada@Example.org")
    cid = issued.credential_id
    async with serving_ready(app_factory, settings) as client:
        body = await verify(
            client, scene.employer_key,
            {"id": cid, "identity": {"type": "emailAddress", "value": "ada@example.org "}},
            {"id": cid, "identity": {"type": "emailAddress", "value": "eve@example.org"}},
            {"credential": issued.document, "identity": {"type": "emailAddress", "value": "ada@example.org"}},
        )
        same, other, by_document = body["results"]
        assert same["verdict"] == "valid" and checks_of(same)["identity_match"] == ("pass", "identity_matches")
        assert other["verdict"] == "invalid" and checks_of(other)["identity_match"] == ("fail", "identity_mismatch")
        assert checks_of(by_document)["identity_match"] == ("pass", "identity_matches")


async def test_registry_facts_at_issue_time(settings, scene, db):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    expired = await issue(scene.ledger, scene.issuer, scene.achievement_id, valid_until="2025-07-01T00:00:00Z")
    future = await issue(scene.ledger, scene.issuer, scene.achievement_id, valid_from="2099-01-01T00:00:00Z")
    async with serving_ready(app_factory, settings) as client:
        body = await verify(client, scene.employer_key, {"id": expired.credential_id}, {"id": future.credential_id})
        assert checks_of(body["results"][0])["validity_window"] == ("fail", "expired")
        assert checks_of(body["results"][1])["validity_window"] == ("fail", "not_yet_valid")
        # The key is found compromised from a moment before the credential was signed.
        await scene.ledger.append([NewEvent(f"issuer:{scene.issuer.issuer_id}", rev.IssuerKeyCompromised(
            issuer_id=scene.issuer.issuer_id, key_id=scene.issuer.key_id, compromised_at="2025-01-01T00:00:00Z",
            reason="leaked"))], ADMIN)
        await scene.ledger.append([NewEvent(f"accreditation:acc-{scene.issuer.issuer_id}", rev.AccreditationSuspended(
            accreditation_id=f"acc-{scene.issuer.issuer_id}", reason="audit", at="2025-05-01T00:00:00Z"))], ADMIN)
        result = await until_verdict(client, scene.employer_key, {"id": issued.credential_id}, "invalid")
        assert checks_of(result)["key_valid"] == ("fail", "key_compromised")
        assert checks_of(result)["issuer_accredited"] == ("fail", "not_accredited_at_issue")


async def test_stacked_award_is_invalid_when_a_component_is_revoked(settings, scene):
    part = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    award = await issue(scene.ledger, scene.issuer, scene.achievement_id, components=[part.credential_id])
    async with relay_running(settings), serving_ready(app_factory, settings) as client:
        result = await until_verdict(client, scene.employer_key, {"id": award.credential_id}, "valid")
        assert checks_of(result)["stack_components"] == ("pass", "components_valid")
        await change_status(scene.ledger, scene.issuer, part.credential_id, cev.CredentialRevoked)
        result = await until_verdict(client, scene.employer_key, {"id": award.credential_id}, "invalid")
        assert checks_of(result)["stack_components"] == ("fail", "component_revoked")
        await change_status(scene.ledger, scene.issuer, award.credential_id, cev.CredentialFlaggedForReview,
                            reason="component revoked")
        result = await until_verdict(client, scene.employer_key, {"id": award.credential_id}, "invalid",
                                     "status", "flagged_for_review")
        assert checks_of(result)["status"][0] == "unknown"


async def test_database_outage_answers_unknown_then_503_never_valid(settings, scene, postgres_admin_url):
    """Cut off from Postgres, the service first answers `unknown` (its status
    source is stale), then, once its read model has stopped following the
    ledger, 503 with Retry-After; it never answers `valid` meanwhile."""
    import asyncpg

    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    path = f"/v1/credentials/{issued.credential_id}/verification"
    name = settings.database_url.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        async with serving_ready(app_factory, settings) as client:
            async def answer():
                response = await client.get(path)
                if response.status == 503:
                    assert response.headers["Retry-After"]
                    return "unavailable"
                body = await response.json()
                if body["verdict"] == "unknown":
                    assert checks_of(body)["status"] == ("unknown", "status_source_unavailable")
                return body["verdict"]

            async def answer_is(*wanted):
                got = await answer()
                return got if got in wanted else None

            await eventually(lambda: answer_is("valid"))
            # The ledger's database becomes unreachable for the service.
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            await eventually(lambda: answer_is("unknown", "unavailable"))
            assert await eventually(lambda: answer_is("unknown", "unavailable", "valid")) != "valid"
            await eventually(lambda: answer_is("unavailable"))
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await eventually(lambda: answer_is("valid"), timeout=30)
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b"", "application/json", 400),
    (b'{"items": 3}', "application/json", 422),
    (b'{"items": [], "extra": 1}', "application/json", 422),
    (b'{"items": []}', "text/plain", 415),
])
async def test_bad_bodies_are_problems_and_write_nothing(settings, scene, body, content_type, status):
    head = await scene.ledger.head_position()
    async with serving_ready(app_factory, settings) as client:
        response = await client.post("/v1/verifications", data=body,
                                     headers={**bearer(scene.employer_key), "Content-Type": content_type})
        assert response.status == status
        assert response.content_type == "application/problem+json"
    assert await scene.ledger.head_position() == head


async def test_limits_roles_and_per_item_problems(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    head = await scene.ledger.head_position()
    async with serving_ready(app_factory, settings) as client:
        too_many = await client.post("/v1/verifications", json={"items": [{"id": "x"}] * 10_001},
                                     headers=bearer(scene.employer_key))
        assert too_many.status == 413
        assert "10,000" in (await too_many.json(content_type=None))["detail"]
        for key in (scene.issuer.api_key, BOOTSTRAP_ADMIN_KEY):
            response = await client.post("/v1/verifications", json={"items": []}, headers=bearer(key))
            assert response.status == 403
        assert (await client.post("/v1/verifications", json={"items": []})).status == 401
        body = await verify(client, scene.employer_key, {"id": issued.credential_id}, {"id": 42},
                            {"id": "a", "jwt": "b"}, {"surprise": True}, {"id": issued.credential_id})
        results = body["results"]
        assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
        assert [r["verdict"] for r in results] == ["valid", "unknown", "unknown", "unknown", "valid"]
        assert all(r["problem"]["status"] == 422 for r in results[1:4])
        assert "exactly one" in results[2]["problem"]["detail"]
    assert await scene.ledger.head_position() == head


async def test_body_over_the_limit_is_413(settings, scene):
    small = msgspec.structs.replace(settings, max_bulk_body_bytes=50_000)
    async with serving_ready(app_factory, small) as client:
        response = await client.post("/v1/verifications", json={"items": [{"id": "urn:uuid:" + "0" * 36}] * 2000},
                                     headers=bearer(scene.employer_key))
        assert response.status == 413
        assert (await response.json(content_type=None))["type"].endswith("/payload-too-large")
