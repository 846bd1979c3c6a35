"""Stacking micro-credentials into an award: by claim, and automatically
within a second of the last component, with events flowing through the
relay and the real broker."""

from __future__ import annotations

import json
import time

from services.issuance.app import create_app
from shared.crypto.eddsa_jcs import raw_public_key
from shared.events import CATALOG
from shared.events import registry as ev
from shared.events.credentials import Cause, CredentialIssued, CredentialRevoked, StackClaimed, credential_stream
from shared.ledger.eventstore.events import Metadata, decode_payload
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support import independent_rdfc
from tests.support.http import bearer, serving
from tests.support.issuance import (
    add_pathway,
    issuance_rows,
    item,
    lifecycle_caught_up,
    registry_caught_up,
    university,
)
from tests.support.ledger import ledger_head
from tests.support.waiting import eventually, running_relay

REVOKER = Metadata(actor="test-revocation", tenant="uni-1")


async def issue(client, issuer, achievement_id, reference, email="ada@example.org"):
    response = await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                 json=item(reference, achievement_id, email=email))
    assert response.status == 201, await response.text()
    return await response.json()


async def programme(db, settings, **rule):
    """Two 5-ECTS modules that stack into a certificate."""
    world, issuer, module_a = await university(db, settings)
    module_b = await world.achievement(issuer, title="Machine Learning Basics")
    award = await world.achievement(issuer, title="Certificate in Data Science", achievement_type="Certificate",
                                    workload=ev.Workload(ects=10.0))
    rule = {"required": [module_a, module_b], "min_credits": 10.0, **rule}
    await add_pathway(world, issuer, "data-science", award, ev.PathwayRule(**rule))
    return world, issuer, module_a, module_b, award


async def test_claiming_a_stack_issues_the_award_once(settings, db):
    world, issuer, module_a, module_b, award_achievement = await programme(db, settings)
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        first = await issue(client, issuer, module_a, "A-1")
        second = await issue(client, issuer, module_b, "B-1")
        claim = {"pathway_id": "data-science", "component_ids": [first["credential_id"], second["credential_id"]]}
        response = await client.post("/v1/stacks", headers=bearer(issuer.api_key), json=claim)
        assert response.status == 201, await response.text()
        stack = await response.json()
        assert sorted(stack["component_ids"]) == sorted(claim["component_ids"])
        assert stack["positions"][1] == stack["positions"][0] + 1  # one append, two events

        rows = await db.fetch("SELECT payload FROM ledger.events WHERE position = ANY($1) ORDER BY position",
                              stack["positions"])
        claimed = decode_payload(bytes(rows[0]["payload"]), StackClaimed)
        issued = decode_payload(bytes(rows[1]["payload"]), CredentialIssued)
        assert claimed.award_credential_id == issued.credential_id == stack["award_credential_id"]
        assert issued.pathway_id == "data-science" and sorted(issued.components) == sorted(claim["component_ids"])
        # The award repeats one component's IdentityObject (the platform keeps no identity to salt anew).
        assert issued.learner_hash in (first["learner_hash"], second["learner_hash"]) and not claimed.automatic
        assert claimed.learner_hash is None

        award = json.loads(await (await client.get(f"/v1/credentials/{stack['award_credential_id']}",
                                                   params={"token": stack["holder_token"]})).read())
        assert all(independent_rdfc.verify_proof_set(award, raw_public_key(issuer.private_key)).values())
        assert award["credentialSubject"]["achievement"]["achievementType"] == "Certificate"
        assert award["credentialSubject"]["identifier"][0]["identityHash"] == issued.learner_hash
        assert sorted(e["id"] for e in award["evidence"]) == sorted(claim["component_ids"])

        head = await ledger_head(db)
        again = await client.post("/v1/stacks", headers=bearer(issuer.api_key), json=claim)
        assert again.status == 409 and await ledger_head(db) == head

        progress = await (await client.get(f"/v1/learners/{first['learner_key']}/pathways",
                                           headers=bearer(issuer.api_key))).json()
        [pathway] = progress["pathways"]
        assert pathway["awarded_credential_id"] == stack["award_credential_id"] and not pathway["eligible"]


async def test_the_learner_can_claim_with_a_link_and_bad_claims_write_nothing(settings, db):
    world, issuer, module_a, module_b, _ = await programme(db, settings)
    other = await world.issuer("uni-2")
    foreign_module = await world.achievement(other)
    async with serving(create_app, settings) as client, running_relay(settings):
        await registry_caught_up(client, db)
        a = await issue(client, issuer, module_a, "A-1")
        b = await issue(client, issuer, module_b, "B-1")
        b_other_learner = await issue(client, issuer, module_b, "B-2", email="bob@example.org")
        foreign = (await (await client.post("/v1/credentials", headers=bearer(other.api_key),
                                            json=item("F-1", foreign_module))).json())
        a_revoked = await issue(client, issuer, module_a, "A-2", email="carol@example.org")
        b_carol = await issue(client, issuer, module_b, "B-3", email="carol@example.org")
        await Ledger(db, CATALOG).append([NewEvent(credential_stream(a_revoked["credential_id"]), CredentialRevoked(
            credential_id=a_revoked["credential_id"], reason_code="fraud", reason="plagiarism"))], REVOKER)

        async def revoked_seen():
            status = await db.fetchval("SELECT status FROM issuance.credentials WHERE credential_id = $1",
                                       a_revoked["credential_id"])
            return True if status == "revoked" else None

        await eventually(revoked_seen)
        head, rows = await ledger_head(db), await issuance_rows(db)

        def claim(*credentials, **extra):
            return {"pathway_id": "data-science", "component_ids": [c["credential_id"] for c in credentials], **extra}

        refused = [
            (claim(a), bearer(issuer.api_key), 422, "pathway-rule-not-met"),
            (claim(a, b_other_learner), bearer(issuer.api_key), 422, "components-of-different-learners"),
            (claim(a_revoked, b_carol), bearer(issuer.api_key), 422, "component-not-eligible"),
            (claim(a, b, foreign), bearer(issuer.api_key), 422, "component-not-eligible"),
            (claim(a, b), bearer(other.api_key), 403, "forbidden"),
            (claim(a, b, holder_token="wrong"), {}, 403, "forbidden"),
            (claim(a, b), {}, 401, "unauthorized"),
            ({**claim(a, b), "pathway_id": "nope"}, bearer(issuer.api_key), 404, "not-found"),
            ({**claim(a, b), "colour": "red"}, bearer(issuer.api_key), 422, "validation-failed"),
        ]
        for body, headers, status, slug in refused:
            response = await client.post("/v1/stacks", headers=headers, json=body)
            problem = await response.json()
            assert (response.status, problem["type"].rsplit("/", 1)[-1]) == (status, slug), problem
        assert "carol" not in json.dumps(refused) and await ledger_head(db) == head
        assert await issuance_rows(db) == rows

        by_holder = await client.post("/v1/stacks", json=claim(a, b, holder_token=b["holder_token"]))
        assert by_holder.status == 201, await by_holder.text()


async def test_an_automatic_pathway_awards_within_a_second_of_the_last_component(settings, db):
    world, issuer, module_a, module_b, _ = await programme(db, settings, auto_award=True)
    async with running_relay(settings), serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        first = await issue(client, issuer, module_a, "A-1")
        await issue(client, issuer, module_a, "A-9", email="someone.else@example.org")
        progress = await (await client.get(f"/v1/learners/{first['learner_key']}/pathways",
                                           headers=bearer(issuer.api_key))).json()
        [pathway] = progress["pathways"]
        assert pathway["held"] == {module_a: first["credential_id"]}
        assert (pathway["missing_required"], pathway["credits_needed"]) == ([module_b], 5.0)

        last = await issue(client, issuer, module_b, "B-1")
        issued_at = time.monotonic()

        async def award():
            return await db.fetchrow("SELECT * FROM issuance.stacks WHERE learner_key = $1", first["learner_key"])

        stack = await eventually(award, timeout=5.0, interval=0.01)
        elapsed = time.monotonic() - issued_at
        assert elapsed < 1.0, f"the award took {elapsed:.2f}s"
        assert stack["automatic"] and sorted(stack["component_ids"]) == sorted(
            [first["credential_id"], last["credential_id"]])
        award_position = await db.fetchval("SELECT position FROM ledger.events WHERE stream_id = $1",
                                           credential_stream(stack["award_credential_id"]))
        assert award_position > last["position"]

        # A retried component and another credential completing the rule
        # again never award twice.
        retry = await client.post("/v1/credentials", headers=bearer(issuer.api_key), json=item("B-1", module_b))
        assert (await retry.json())["existing"]
        await issue(client, issuer, module_b, "B-2")
        await lifecycle_caught_up(db)
        progress = await (await client.get(f"/v1/learners/{first['learner_key']}/pathways",
                                           headers=bearer(issuer.api_key))).json()
        assert progress["pathways"][0]["awarded_credential_id"] == stack["award_credential_id"]
        assert await db.fetchval("SELECT count(*) FROM issuance.stacks") == 1
        assert await db.fetchval("SELECT count(*) FROM ledger.events WHERE event_type = 'issuance.StackClaimed'") == 1


async def test_a_learner_whose_award_was_revoked_in_a_cascade_can_earn_it_again(settings, db):
    world, issuer, module_a, module_b, _ = await programme(db, settings)
    async with serving(create_app, settings) as client, running_relay(settings):
        await registry_caught_up(client, db)
        a, b = await issue(client, issuer, module_a, "A-1"), await issue(client, issuer, module_b, "B-1")
        claim = {"pathway_id": "data-science", "component_ids": [a["credential_id"], b["credential_id"]]}
        first = await (await client.post("/v1/stacks", headers=bearer(issuer.api_key), json=claim)).json()
        award_id = first["award_credential_id"]
        # Component A is revoked, and the cascade revokes the award built on it.
        await Ledger(db, CATALOG).append([
            NewEvent(credential_stream(a["credential_id"]), CredentialRevoked(
                credential_id=a["credential_id"], reason_code="fraud", reason="plagiarism"))], REVOKER)
        await Ledger(db, CATALOG).append([
            NewEvent(credential_stream(award_id), CredentialRevoked(
                credential_id=award_id, reason_code="fraud", reason="a component was revoked",
                cause=Cause(kind="component_revoked", ref=a["credential_id"])))],
            Metadata(actor="revocation.cascade", tenant="uni-1"))
        await lifecycle_caught_up(db)
        progress = await (await client.get(f"/v1/learners/{a['learner_key']}/pathways",
                                           headers=bearer(issuer.api_key))).json()
        assert progress["pathways"][0]["awarded_credential_id"] is None

        replacement = await issue(client, issuer, module_a, "A-2")
        again = {**claim, "component_ids": [replacement["credential_id"], b["credential_id"]]}
        response = await client.post("/v1/stacks", headers=bearer(issuer.api_key), json=again)
        assert response.status == 201, await response.text()
        second = await response.json()
        assert second["stack_id"] != first["stack_id"] and second["award_credential_id"] != award_id

        head = await ledger_head(db)
        refused = await client.post("/v1/stacks", headers=bearer(issuer.api_key), json=again)
        assert refused.status == 409 and second["stack_id"] in (await refused.json())["detail"]
        assert await ledger_head(db) == head
