"""The revocation commands over real HTTP, Postgres and the broker: revoke,
suspend, reinstate, batches, idempotency, access, status history, and bad
input that is refused with a clear problem and writes nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import CATALOG
from shared.events.credentials import credential_stream
from shared.ledger.eventstore.store import Ledger
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support.credentials import issue_credentials
from tests.support.http import bearer
from tests.support.revocation import revocation_service
from tests.support.world import World

REASON = {"reason_code": "issued_in_error", "reason": "wrong learner record"}


@pytest.fixture
async def world(db, settings):
    world = World(db, settings)
    await world.agency("qqi")
    await world.agency("other-agency", "FR")
    return world


async def issue(world, issuer, count=1, **kwargs):
    achievement = issuer.achievements[0] if issuer.achievements else await world.achievement(issuer)
    return await issue_credentials(world.pool, world.settings, issuer, achievement, count, **kwargs)


def action(client, credential_id, verb, key, body=REASON, **headers):
    return client.post(f"/v1/credentials/{credential_id}/{verb}", json=body, headers={**bearer(key), **headers})


async def head(db) -> int:
    return await Ledger(db, CATALOG).head_position()


async def stream_types(db, credential_id) -> list[str]:
    return [e.event_type for e in await Ledger(db, CATALOG).read_stream(credential_stream(credential_id))]


async def expect_problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json(content_type=None)


async def test_revoke_suspend_reinstate_and_actions_that_do_not_apply(settings, db, world):
    issuer = await world.issuer("uni-1")
    a, b = await issue(world, issuer, 2)
    key = issuer.api_key
    async with revocation_service(settings) as client:
        # Straight after issuance: decisions come from the ledger, not the read model.
        response = await action(client, a.credential_id, "revoke", key)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body == {"credential_id": a.credential_id, "action": "revoke", "previous_status": "active",
                        "status": "revoked", "position": await head(db)}

        for verb in ("revoke", "suspend", "reinstate"):
            before = await head(db)
            problem = await expect_problem(await action(client, a.credential_id, verb, key), 409)
            assert problem["current_status"] == "revoked"
            assert problem["credential_id"] == a.credential_id
            assert "final" in problem["detail"]
            assert await head(db) == before

        assert (await (await action(client, b.credential_id, "suspend", key)).json())["status"] == "suspended"
        problem = await expect_problem(await action(client, b.credential_id, "suspend", key), 409)
        assert problem["current_status"] == "suspended"
        reinstated = await (await action(client, b.credential_id, "reinstate", key)).json()
        assert (reinstated["previous_status"], reinstated["status"]) == ("suspended", "active")
        problem = await expect_problem(await action(client, b.credential_id, "reinstate", key), 409)
        assert problem["current_status"] == "active"
        assert "only a suspended or flagged" in problem["detail"]

    assert await stream_types(db, a.credential_id) == ["issuance.CredentialIssued", "revocation.CredentialRevoked"]
    assert await stream_types(db, b.credential_id) == [
        "issuance.CredentialIssued", "revocation.CredentialSuspended", "revocation.CredentialReinstated"]


async def test_concurrent_conflicting_actions_append_once(settings, db, world):
    issuer = await world.issuer("uni-1")
    [credential] = await issue(world, issuer)
    async with revocation_service(settings) as client:
        responses = await asyncio.gather(*(
            action(client, credential.credential_id, "revoke", issuer.api_key) for _ in range(8)))
        assert sorted(r.status for r in responses) == [200] + [409] * 7
    assert await stream_types(db, credential.credential_id) == [
        "issuance.CredentialIssued", "revocation.CredentialRevoked"]


async def test_who_may_act(settings, db, world):
    issuer, stranger = await world.issuer("uni-1"), await world.issuer("uni-2", "other-agency")
    a, b, c, d = await issue(world, issuer, 4)
    accreditor = await world.client("agency_admin", "qqi")
    other_agency = await world.client("agency_admin", "other-agency")
    employer = await world.client("employer", "acme")
    async with revocation_service(settings) as client:
        before = await head(db)
        # Another issuer, an agency that does not accredit this issuer: as if it did not exist.
        for key in (stranger.api_key, other_agency):
            problem = await expect_problem(await action(client, a.credential_id, "revoke", key), 404)
            assert a.credential_id in problem["detail"]
            await expect_problem(await client.get(f"/v1/credentials/{a.credential_id}/status-history",
                                                  headers=bearer(key)), 404)
        await expect_problem(await action(client, a.credential_id, "revoke", employer), 403)
        await expect_problem(await client.post(f"/v1/credentials/{a.credential_id}/revoke", json=REASON), 401)
        assert await head(db) == before

        for credential, key in ((a, issuer.api_key), (b, accreditor), (c, BOOTSTRAP_ADMIN_KEY)):
            response = await action(client, credential.credential_id, "revoke", key)
            assert response.status == 200, await response.text()
        # A bare UUID names the same credential.
        bare = d.credential_id.removeprefix("urn:uuid:")
        assert (await action(client, bare, "suspend", issuer.api_key)).status == 200


async def test_bad_input_is_refused_and_writes_nothing(settings, db, world):
    issuer = await world.issuer("uni-1")
    [credential] = await issue(world, issuer)
    path = f"/v1/credentials/{credential.credential_id}/revoke"
    key = bearer(issuer.api_key)
    async with revocation_service(settings) as client:
        before = await head(db)
        cases = [
            (client.post(f"/v1/credentials/urn:uuid:{uuid.uuid4()}/revoke", json=REASON, headers=key), 404, "no credential"),
            (client.post("/v1/credentials/not-a-uuid/revoke", json=REASON, headers=key), 400, "not a credential id"),
            (client.post(path, json={"reason_code": "fraud"}, headers=key), 422, "reason"),
            (client.post(path, json={"reason_code": "fraud", "reason": "   "}, headers=key), 422, "reason is required"),
            (client.post(path, json={"reason_code": "because", "reason": "x"}, headers=key), 422, "reason_code"),
            (client.post(path, json={**REASON, "extra": 1}, headers=key), 422, "extra"),
            (client.post(path, data=b"{nope", headers={**key, "Content-Type": "application/json"}), 400, "not valid JSON"),
            (client.post(path, json=REASON, headers={**key, "Idempotency-Key": "has space"}), 400, "Idempotency-Key"),
            (client.post("/v1/revocations/batch", json={"items": []}, headers=key), 422, "length"),
            (client.post("/v1/revocations/batch", headers=key, json={"items": [
                {"credential_id": credential.credential_id, **REASON}] * 10_001}), 422, "10000"),
            (client.get(f"/v1/credentials/urn:uuid:{uuid.uuid4()}/status-history", headers=key), 404, "no credential"),
        ]
        for request, status, needle in cases:
            problem = await expect_problem(await request, status)
            assert needle in problem["detail"] + str(problem.get("errors", "")), problem
        assert await head(db) == before


async def test_batch_reports_an_outcome_per_item(settings, db, world):
    issuer, stranger = await world.issuer("uni-1"), await world.issuer("uni-2")
    a, b, c = await issue(world, issuer, 3)
    [foreign] = await issue(world, stranger)
    key = bearer(issuer.api_key)
    async with revocation_service(settings) as client:
        assert (await action(client, c.credential_id, "revoke", issuer.api_key)).status == 200
        items = [
            {"credential_id": a.credential_id, **REASON},
            {"credential_id": b.credential_id, "action": "suspend", **REASON},
            {"credential_id": b.credential_id, "action": "reinstate", "reason_code": "other", "reason": "cleared"},
            {"credential_id": c.credential_id, **REASON},
            {"credential_id": foreign.credential_id, **REASON},
            {"credential_id": "urn:uuid:nope", **REASON},
            {"credential_id": a.credential_id, "action": "suspend", **REASON},
        ]
        before = await head(db)
        response = await client.post("/v1/revocations/batch", json={"items": items}, headers=key)
        assert response.status == 200, await response.text()
        result = await response.json()
    assert (result["applied"], result["rejected"]) == (3, 4)
    assert result["positions"] == [before + 1, before + 2, before + 3]
    outcomes = [(r["index"], r["outcome"], r.get("status"), r.get("problem", {}).get("status"))
                for r in result["results"]]
    assert outcomes == [
        (0, "applied", "revoked", None), (1, "applied", "suspended", None), (2, "applied", "active", None),
        (3, "rejected", "revoked", 409), (4, "rejected", None, 404), (5, "rejected", None, 400),
        (6, "rejected", "revoked", 409),
    ]
    assert result["results"][3]["problem"]["current_status"] == "revoked"
    assert await head(db) == before + 3


async def test_idempotency_key_replays_the_original_response(settings, db, world):
    issuer = await world.issuer("uni-1")
    a, b, c = await issue(world, issuer, 3)
    async with revocation_service(settings) as client:
        first = await action(client, a.credential_id, "revoke", issuer.api_key, **{"Idempotency-Key": "k-1"})
        assert first.status == 200
        after_first = await head(db)
        again = await action(client, a.credential_id, "revoke", issuer.api_key, **{"Idempotency-Key": "k-1"})
        assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert await again.read() == await first.read()
        assert await head(db) == after_first

        problem = await expect_problem(await action(
            client, a.credential_id, "revoke", issuer.api_key, {"reason_code": "fraud", "reason": "other body"},
            **{"Idempotency-Key": "k-1"}), 422)
        assert "different request" in problem["detail"]
        # Keys are per client: another client's k-1 is a new request.
        admin = await action(client, b.credential_id, "suspend", BOOTSTRAP_ADMIN_KEY, **{"Idempotency-Key": "k-1"})
        assert admin.status == 200 and "Idempotent-Replayed" not in admin.headers

        # Concurrent retries of one request: one acts, the others replay it.
        racing = await asyncio.gather(*(
            action(client, c.credential_id, "revoke", issuer.api_key, **{"Idempotency-Key": "k-2"})
            for _ in range(6)))
        assert {r.status for r in racing} == {200}
        assert len({await r.read() for r in racing}) == 1
        assert sum("Idempotent-Replayed" in r.headers for r in racing) == 5

        batch = {"items": [{"credential_id": b.credential_id, "action": "reinstate", **REASON}]}
        headers = {**bearer(issuer.api_key), "Idempotency-Key": "batch-1"}
        first_batch = await (await client.post("/v1/revocations/batch", json=batch, headers=headers)).read()
        replay = await client.post("/v1/revocations/batch", json=batch, headers=headers)
        assert await replay.read() == first_batch and replay.headers["Idempotent-Replayed"] == "true"
    assert await stream_types(db, c.credential_id) == ["issuance.CredentialIssued", "revocation.CredentialRevoked"]
    assert len(await stream_types(db, b.credential_id)) == 3


async def test_status_history_comes_from_the_ledger(settings, db, world):
    issuer = await world.issuer("uni-1")
    [credential] = await issue(world, issuer)
    accreditor = await world.client("agency_admin", "qqi")
    cid = credential.credential_id
    async with revocation_service(settings) as client:
        await action(client, cid, "suspend", issuer.api_key,
                     {"reason_code": "under_investigation", "reason": "exam board review"},
                     **{"X-Request-Id": "req-suspend"})
        await action(client, cid, "reinstate", accreditor, {"reason_code": "other", "reason": "review cleared"})
        await action(client, cid, "revoke", issuer.api_key, {"reason_code": "fraud", "reason": "plagiarism"})
        response = await client.get(f"/v1/credentials/{cid}/status-history", headers=bearer(accreditor))
        assert response.status == 200
        history = await response.json()
    events = await Ledger(db, CATALOG).read_stream(credential_stream(cid))
    assert history["credential_id"] == cid and history["issuer_id"] == "uni-1" and history["status"] == "revoked"
    entries = history["entries"]
    assert [(e["event"], e["status"], e.get("reason_code"), e.get("reason")) for e in entries] == [
        ("issued", "active", None, None),
        ("suspended", "suspended", "under_investigation", "exam board review"),
        ("reinstated", "active", "other", "review cleared"),
        ("revoked", "revoked", "fraud", "plagiarism"),
    ]
    assert [e["position"] for e in entries] == [e.position for e in events]
    assert entries[1]["request_id"] == "req-suspend"
    assert [e["tenant"] for e in entries[1:]] == ["uni-1", "qqi", "uni-1"]
    assert all(e["recorded_at"].endswith("Z") and e["actor"] for e in entries)
