"""Batch issuance: per-item outcomes, idempotency under retries and under
concurrent duplicates, and status list entries."""

from __future__ import annotations

import asyncio
import json

from services.issuance.app import create_app
from shared.crypto.eddsa_jcs import raw_public_key
from shared.events.credentials import CredentialIssued
from shared.ledger.eventstore.events import decode_payload
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support import independent_rdfc
from tests.support.http import bearer, serving
from tests.support.issuance import issuance_rows, item, registry_caught_up, university
from tests.support.ledger import ledger_head


async def issued_events(db) -> list[CredentialIssued]:
    rows = await db.fetch("SELECT payload FROM ledger.events WHERE event_type = 'issuance.CredentialIssued'"
                          " ORDER BY position")
    return [decode_payload(bytes(r["payload"]), CredentialIssued) for r in rows]


async def test_each_item_has_its_own_outcome_and_bad_items_block_nothing(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    other = await world.issuer("uni-2")
    foreign_achievement = await world.achievement(other)
    items = [
        item("R-1", achievement_id, email="one@example.org"),
        item("R-2", achievement_id, email="not-an-email"),
        item("R-3", achievement_id, learner={"national_id": "1234567 ta"}, email=None),
        item("R-1", achievement_id, email="again@example.org"),
        item("R-4", foreign_achievement),
        item("R-5", "ach-unknown"),
        item("R-6", achievement_id, issued_on="2026-13-45"),
        item("R-7", achievement_id, issued_on="2026-06-30", valid_until="2026-01-01"),
        item("R-8", achievement_id, email="eight@example.org", grade="B+"),
        item("R-9", achievement_id, issued_on="9999-12-31"),
    ]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)
        response = await client.post("/v1/credentials/batch", headers=bearer(issuer.api_key), json={"items": items})
        assert response.status == 200, await response.text()
        body = await response.json()
        outcomes = [(o["index"], o["outcome"], (o.get("problem") or {}).get("type", "").rsplit("/", 1)[-1])
                    for o in body["items"]]
        assert outcomes == [
            (0, "issued", ""), (1, "rejected", "learner-identity-invalid"), (2, "issued", ""),
            (3, "rejected", "duplicate-reference"), (4, "rejected", "achievement-of-another-issuer"),
            (5, "rejected", "achievement-not-found"), (6, "rejected", "validation-failed"),
            (7, "rejected", "validation-failed"), (8, "issued", ""), (9, "rejected", "validation-failed"),
        ]
        assert (body["issued"], body["existing"], body["rejected"]) == (3, 0, 7)
        assert all(o["problem"]["status"] in (403, 404, 409, 422) for o in body["items"] if o["outcome"] == "rejected")
        issued = [o for o in body["items"] if o["outcome"] == "issued"]
        assert await ledger_head(db) == head + 3
        assert sorted(o["position"] for o in issued) == [head + 1, head + 2, head + 3]
        for outcome in issued:
            fetched = await client.get(f"/v1/credentials/{outcome['credential_id']}",
                                       params={"token": outcome["holder_token"]})
            outcomes = independent_rdfc.verify_proof_set(json.loads(await fetched.read()),
                                                         raw_public_key(issuer.private_key))
            assert outcomes == {"eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}


async def test_a_retried_batch_returns_the_credentials_already_issued(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    second = await world.achievement(issuer, title="Statistics")
    items = [item(f"R-{i}", achievement_id, email=f"learner{i}@example.org") for i in range(20)]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        first = await (await client.post("/v1/credentials/batch", headers=bearer(issuer.api_key),
                                         json={"items": items})).json()
        head = await ledger_head(db)
        again = await (await client.post("/v1/credentials/batch", headers=bearer(issuer.api_key),
                                         json={"items": items + [item("R-new", achievement_id)]})).json()
        assert await ledger_head(db) == head + 1
        assert (again["issued"], again["existing"]) == (1, 20)
        for before, after in zip(first["items"], again["items"], strict=False):  # again has one more
            assert after["outcome"] == "existing"
            for field in ("credential_id", "position", "holder_token", "learner_hash"):
                assert after[field] == before[field]

        # The same reference for another achievement or learner is a clash, not a retry.
        clash = await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                  json=item("R-0", second, email="learner0@example.org"))
        assert clash.status == 409 and (await clash.json())["type"].endswith("/reference-conflict")
        single_retry = await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                         json=item("R-3", achievement_id, email="LEARNER3@example.org"))
        assert single_retry.status == 200
        assert (await single_retry.json())["credential_id"] == first["items"][3]["credential_id"]
        assert await ledger_head(db) == head + 1


async def test_an_idempotency_key_replays_its_response_and_refuses_another_body(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    body = {"items": [item(f"K-{i}", achievement_id, email=f"k{i}@example.org") for i in range(5)]}
    headers = {**bearer(issuer.api_key), "Idempotency-Key": "term-2026-batch-1"}
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        first = await client.post("/v1/credentials/batch", headers=headers, json=body)
        head = await ledger_head(db)
        reformatted = json.dumps(body, indent=2)  # the same request, other whitespace
        replay = await client.post("/v1/credentials/batch", data=reformatted,
                                   headers={**headers, "Content-Type": "application/json"})
        assert replay.status == 200 and replay.headers["Idempotent-Replayed"] == "true"
        assert await replay.json() == await first.json()
        changed = {"items": body["items"][:4]}
        refused = await client.post("/v1/credentials/batch", headers=headers, json=changed)
        assert refused.status == 422 and (await refused.json())["type"].endswith("/idempotency-key-reused")
        assert await ledger_head(db) == head
        stored = await db.fetchval("SELECT response FROM issuance.idempotency_keys")
        assert b"holder_token" not in bytes(stored)  # links are derived again, never stored


async def test_idempotency_keys_follow_the_one_rule_and_expire_after_a_day(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    await db.execute("INSERT INTO issuance.idempotency_keys (client_id, idempotency_key, fingerprint, response,"
                     " created_at) VALUES ('c', 'old', '\\x00', '[]', now() - interval '25 hours'),"
                     " ('c', 'recent', '\\x00', '[]', now() - interval '23 hours')")
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        spaced = await client.post("/v1/credentials", json=item("S-1", achievement_id),
                                   headers={**bearer(issuer.api_key), "Idempotency-Key": "term 2026"})
        assert spaced.status == 400 and "visible ASCII" in (await spaced.json())["detail"]
        for _ in range(100):
            kept = {r["idempotency_key"] for r in await db.fetch("SELECT idempotency_key FROM issuance.idempotency_keys")}
            if "old" not in kept:
                break
            await asyncio.sleep(0.05)
        assert kept == {"recent"}  # the service's purge loop removed the day-old key, and only it


async def test_concurrent_duplicates_issue_each_credential_once(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    items = [item(f"C-{i:03d}", achievement_id, email=f"c{i}@example.org") for i in range(40)]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)

        async def send(extra_headers=None):
            response = await client.post("/v1/credentials/batch", json={"items": items},
                                         headers={**bearer(issuer.api_key), **(extra_headers or {})})
            assert response.status == 200, await response.text()
            return await response.json()

        responses = await asyncio.gather(*(send() for _ in range(6)))
        ids = {tuple(o["credential_id"] for o in r["items"]) for r in responses}
        assert len(ids) == 1  # every duplicate got the same credentials
        assert sum(r["issued"] for r in responses) == 40
        assert await ledger_head(db) == head + 40 and await issuance_rows(db) == 40

        # The same with one Idempotency-Key: one issuance, identical answers.
        keyed = [item(f"K-{i}", achievement_id, email=f"k{i}@example.org") for i in range(10)]
        items[:] = keyed
        replies = await asyncio.gather(*(send({"Idempotency-Key": "same"}) for _ in range(5)))
        assert all(reply == replies[0] for reply in replies)
        assert await ledger_head(db) == head + 50

        singles = await asyncio.gather(*(client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                                     json=item("S-1", achievement_id)) for _ in range(5)))
        assert sorted(s.status for s in singles) == [200, 200, 200, 200, 201]
        assert len({(await s.json())["credential_id"] for s in singles}) == 1
        assert await ledger_head(db) == head + 51


async def test_status_indexes_are_unique_and_not_sequential(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    items = [item(f"S-{i}", achievement_id, email=f"s{i}@example.org") for i in range(300)]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        for start in (0, 150):
            response = await client.post("/v1/credentials/batch", headers=bearer(issuer.api_key),
                                         json={"items": items[start:start + 150]})
            assert (await response.json())["issued"] == 150
    events = await issued_events(db)
    assert {s.purpose for e in events for s in e.status} == {"revocation"}  # one entry each (docs/status.md)
    entries = [(s.list_id, s.index) for e in events for s in e.status]
    assert len(entries) == 300 and len(set(entries)) == 300
    indexes = [index for _, index in entries]
    steps = [b - a for a, b in zip(indexes, indexes[1:], strict=False)]
    assert sum(1 for step in steps if step == 1) < 10, "indexes follow issuance order"
    assert indexes != sorted(indexes)
    for event in events:
        entry = json.loads(bytes(event.document))["credentialStatus"]
        [status] = event.status
        assert (entry["statusPurpose"], int(entry["statusListIndex"])) == (status.purpose, status.index)


async def test_request_level_problems_write_nothing(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    employer = await world.client("employer", "acme")
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)
        auth = bearer(issuer.api_key)
        oversized = {"items": [item(f"O-{i}", achievement_id) for i in range(10_001)]}
        cases = [
            (await client.post("/v1/credentials/batch", headers=auth, json=oversized), 413, "batch-too-large"),
            (await client.post("/v1/credentials/batch", headers=auth, json={"items": []}), 400, "bad-request"),
            (await client.post("/v1/credentials/batch", headers=auth, data="{not json"),
             415, "unsupported-media-type"),
            (await client.post("/v1/credentials/batch", headers={**auth, "Content-Type": "application/json"},
                               data="{not json"), 400, "bad-request"),
            (await client.post("/v1/credentials/batch", headers=auth,
                               json={"items": [{**item("T-1", achievement_id), "reference": 7}]}),
             422, "validation-failed"),
            (await client.post("/v1/credentials", headers=auth, json={**item("T-1", achievement_id), "colour": "red"}),
             422, "validation-failed"),
            (await client.post("/v1/credentials", headers=bearer(employer), json=item("T-1", achievement_id)),
             403, "forbidden"),
            (await client.post("/v1/credentials", headers=bearer(BOOTSTRAP_ADMIN_KEY),
                               json=item("T-1", achievement_id)), 403, "forbidden"),
            (await client.post("/v1/credentials", json=item("T-1", achievement_id)), 401, "unauthorized"),
            (await client.post("/v1/credentials", headers={**auth, "Idempotency-Key": "x" * 300},
                               json=item("T-1", achievement_id)), 400, "bad-request"),
        ]
        for response, status, slug in cases:
            problem = await response.json(content_type=None)
            assert (response.status, problem["type"].rsplit("/", 1)[-1]) == (status, slug), problem
            assert problem["detail"]
        assert "10,000" in (await cases[0][0].json())["detail"]
        assert await ledger_head(db) == head and await issuance_rows(db) == 0
