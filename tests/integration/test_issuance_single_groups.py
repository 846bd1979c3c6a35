"""Single-credential requests that share a ledger group (claiming.py): their
claims run as one statement, yet each request gets its own outcome, duplicates
of one reference issue one credential, and every answer is durable."""

from __future__ import annotations

import asyncio

from services.issuance import store
from services.issuance.app import create_app
from shared.events.credentials import credential_stream
from shared.ledger.transparency.audit import verify_chain
from tests.support.http import bearer, serving
from tests.support.issuance import issuance_rows, item, registry_caught_up, university
from tests.support.ledger import ledger_head


async def test_concurrent_single_requests_each_get_their_own_outcome(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    other = await world.achievement(issuer)
    # Distinct references; three references sent four times each (one learner
    # or a clash); one learner with two credentials; one key sent three times.
    requests = [({}, item(f"G-{i:03d}", achievement_id, email=f"g{i}@example.org")) for i in range(40)]
    requests += [({}, item(f"D-{k}", achievement_id, email=f"d{k}@example.org")) for k in range(3) for _ in range(4)]
    requests += [({}, item(f"X-{k}", other, email="same@example.org")) for k in range(2)]
    requests += [({"Idempotency-Key": "once"}, item("K-1", achievement_id, email="k@example.org"))] * 3
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)

        async def send(headers, body):
            response = await client.post("/v1/credentials", json=body, headers={**bearer(issuer.api_key), **headers})
            return response.status, await response.json()

        answers = await asyncio.gather(*(send(h, b) for h, b in requests))
        clash = await send({}, item("D-0", other, email="d0@example.org"))  # the reference, another achievement

    by_reference: dict[str, list[tuple[int, dict]]] = {}
    for (_, body), answer in zip(requests, answers, strict=True):
        by_reference.setdefault(body["reference"], []).append(answer)
    issued = 40 + 3 + 2 + 1
    assert await ledger_head(db) == head + issued and await issuance_rows(db) == issued
    position_of = {r["stream_id"]: r["position"] for r in await db.fetch(
        "SELECT stream_id, position FROM ledger.events WHERE event_type = 'issuance.CredentialIssued'")}
    for reference, replies in by_reference.items():
        ok = [body for status, body in replies if status in (200, 201)]
        assert len({body["credential_id"] for body in ok}) == 1, reference
        if not reference.startswith("K-"):
            assert sum(s == 201 for s, _ in replies) == 1, reference  # exactly one issued it
        assert all(body["position"] > head for body in ok)
        assert all(position_of[credential_stream(body["credential_id"])] == body["position"] for body in ok)
    assert clash[0] == 409
    keyed = [answer for (headers, _), answer in zip(requests, answers, strict=True) if headers]
    assert len({a[1]["credential_id"] for a in keyed}) == 1
    # every learner identified by email has its sealed contact, once
    contacts = await db.fetchval("SELECT count(*) FROM issuance.learner_contacts")
    assert contacts == 40 + 3 + 1 + 1
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok
    transactions = await db.fetchval("SELECT count(DISTINCT xmin::text) FROM ledger.events WHERE position > $1", head)
    assert transactions < issued  # requests really shared groups


async def test_a_lone_request_is_written_whole_and_a_retry_falls_back_to_its_own_answer(settings, db, monkeypatch):
    world, issuer, achievement_id = await university(db, settings)
    tried: list[str] = []
    whole = store.claim_and_append

    async def spied(*args, **kwargs):
        try:
            row = await whole(*args, **kwargs)
        except Exception as error:
            tried.append(type(error).__name__)
            raise
        tried.append("written")
        return row

    monkeypatch.setattr(store, "claim_and_append", spied)
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        head = await ledger_head(db)

        async def send(body, **headers):
            response = await client.post("/v1/credentials", json=body, headers={**bearer(issuer.api_key), **headers})
            return response.status, await response.json(), response.headers.get("Idempotent-Replayed")

        first = await send(item("L-1", achievement_id, email="l1@example.org"))
        again = await send(item("L-1", achievement_id, email="l1@example.org"))  # a retry: the reference is taken
        keyed = await send(item("L-2", achievement_id, email="l2@example.org"), **{"Idempotency-Key": "k-2"})
        replay = await send(item("L-2", achievement_id, email="l2@example.org"), **{"Idempotency-Key": "k-2"})

    assert tried == ["written", "UniqueViolationError", "written"]  # the replay is answered before any claim
    assert first[0] == 201 and again[0] == 200 and again[1]["existing"]
    assert again[1]["credential_id"] == first[1]["credential_id"] and again[1]["position"] == first[1]["position"]
    assert keyed[0] == 201 and replay[2] == "true" and replay[1]["credential_id"] == keyed[1]["credential_id"]
    assert await ledger_head(db) == head + 2 and await issuance_rows(db) == 2
    # claim, stored response, contact and event of each request: one transaction each
    for reference, credential in (("L-1", first[1]), ("L-2", keyed[1])):
        writes = await db.fetch(
            "SELECT xmin::text AS tx FROM ledger.events WHERE stream_id = $1"
            " UNION ALL SELECT xmin::text FROM issuance.credentials WHERE issuer_reference = $2"
            " UNION ALL SELECT xmin::text FROM issuance.learner_contacts WHERE learner_key = $3",
            credential_stream(credential["credential_id"]), reference, credential["learner_key"])
        assert len(writes) == 3 and len({w["tx"] for w in writes}) == 1, reference
    stored = await db.fetch("SELECT xmin::text AS tx FROM issuance.idempotency_keys WHERE idempotency_key = 'k-2'")
    keyed_tx = await db.fetchval("SELECT xmin::text FROM issuance.credentials WHERE issuer_reference = 'L-2'")
    assert [r["tx"] for r in stored] == [keyed_tx]
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok
