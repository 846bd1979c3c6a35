"""Cross-issuer stacking through recognition agreements, end to end: the
registry's API (framework referencing, agreements), issuance's claims over
HTTP, Postgres and the broker, and the revocation service's cascades."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import msgspec

from services.issuance.app import create_app as issuance_app
from services.registry.app import create_app as registry_app
from services.verification.app import create_app as verification_app
from shared.events import registry as ev
from shared.events.credentials import StackClaimed
from shared.ledger.eventstore.events import decode_payload
from shared.timeutil import format_time, now
from tests.support.credentials_for_verification import serving_ready
from tests.support.http import bearer, serving
from tests.support.issuance import item, registry_caught_up
from tests.support.ledger import ledger_head
from tests.support.recognition import declare, pathway, post, reference_mqf, two_countries
from tests.support.revocation import revocation_service
from tests.support.waiting import eventually, running_relay


async def issue(client, issuer, achievement_id, reference, email="ada@example.org", **fields):
    return await post(client, "/v1/credentials", issuer.api_key, item(reference, achievement_id, email=email,
                                                                          **fields), 201)


def claim(pathway_id, *credentials):
    return {"pathway_id": pathway_id, "component_ids": [c["credential_id"] for c in credentials]}


async def refused_claim(client, db, key, body, status, code, says=""):
    head = await ledger_head(db)
    response = await client.post("/v1/stacks", headers=bearer(key), json=body)
    problem = await response.json()
    assert (response.status, problem["type"].rsplit("/", 1)[-1]) == (status, code), problem
    assert says in problem["detail"], problem
    assert await ledger_head(db) == head
    return problem


async def stack_claimed(db, position) -> StackClaimed:
    payload = await db.fetchval("SELECT payload FROM ledger.events WHERE position = $1", position)
    return decode_payload(bytes(payload), StackClaimed)


async def test_a_cross_issuer_award_needs_an_agreement_in_force_and_components_that_verify(settings, db):
    w = await two_countries(db, settings)
    await pathway(w, "ds")
    async with serving(registry_app, settings) as registry, running_relay(settings), \
            serving(issuance_app, settings) as issuance, serving_ready(verification_app, settings) as verification:
        await registry_caught_up(issuance, db)
        own, foreign = await issue(issuance, w.ie, w.module, "A-1"), await issue(issuance, w.my, w.my_module, "M-1")
        await refused_claim(issuance, db, w.ie.api_key, claim("ds", own, foreign), 422, "component-not-eligible",
                            "no recognition agreement")

        await reference_mqf(registry, w)
        agreement = await declare(registry, w, "rec-mqa-6")
        assert agreement["in_force"] and agreement["recognising_id"] == "uni-ie"
        await registry_caught_up(issuance, db)
        stack = await post(issuance, "/v1/stacks", w.ie.api_key, claim("ds", own, foreign), 201)
        claimed = await stack_claimed(db, stack["positions"][0])
        admissions = {a.component_id: (a.agreement_id, a.credits) for a in claimed.admissions}
        assert admissions == {own["credential_id"]: (None, 5.0), foreign["credential_id"]: ("rec-mqa-6", 5.0)}
        assert claimed.credit_pool == "ds"
        award = json.loads(await (await issuance.get(f"/v1/credentials/{stack['award_credential_id']}",
                                                     params={"token": stack["holder_token"]})).read())
        narratives = {e["id"]: e.get("narrative") for e in award["evidence"]}
        assert narratives[foreign["credential_id"]] == "Recognised under agreement rec-mqa-6"

        async def verdict():
            answer = await (await verification.get(f"/v1/credentials/{stack['award_credential_id']}/verification"))\
                .json()
            return answer if answer.get("verdict") == "valid" else None

        answer = await eventually(verdict, timeout=10)
        assert {c["check"]: c["reason"] for c in answer["checks"]}["stack_components"] != "not_a_stack"

        # MQA publishes a second version of its referencing: MQF 6 is now EQF 5,
        # and a claim made now is judged by it.
        second = await post(registry, "/v1/frameworks/mqf/referencing", w.mqa_key,
                            {"mappings": [{"level_code": "MQF-6", "target_level": "5"}]}, 201)
        assert [v["version"] for v in second["referencing"]["history"]] == [1, 2]
        await registry_caught_up(issuance, db)
        own_b = await issue(issuance, w.ie, w.module, "A-2", email="bea@example.org")
        foreign_b = await issue(issuance, w.my, w.my_module, "M-2", email="bea@example.org")
        await refused_claim(issuance, db, w.ie.api_key, claim("ds", own_b, foreign_b), 422, "component-not-eligible",
                            "it is at EQF 5, not 6")

        # A component whose signing key was compromised before it was signed does not verify.
        await post(registry, "/v1/frameworks/mqf/referencing", w.mqa_key,
                   {"mappings": [{"level_code": "MQF-6", "target_level": "6"}]}, 201)
        own_c = await issue(issuance, w.ie, w.module, "A-3", email="cy@example.org")
        foreign_c = await issue(issuance, w.my, w.my_module, "M-3", email="cy@example.org")
        issued_at = await db.fetchval("SELECT valid_from FROM issuance.credentials WHERE credential_id = $1",
                                      foreign_c["credential_id"])
        await w.world._append("issuer:uni-my", ev.IssuerKeyCompromised(
            issuer_id="uni-my", key_id="key-1", compromised_at=format_time(issued_at - dt.timedelta(seconds=1)),
            reason="test: leaked"))
        await registry_caught_up(issuance, db)
        await refused_claim(issuance, db, w.ie.api_key, claim("ds", own_c, foreign_c), 422, "component-not-verified",
                            "key compromised")


async def test_a_revoked_agreement_keeps_or_flags_awards_as_it_says_and_admits_no_more(settings, db):
    w = await two_countries(db, settings)
    await pathway(w, "keeping")
    await pathway(w, "flagging", award=await w.world.achievement(w.ie, title="Second award",
                                                                workload=ev.Workload(ects=10.0)))
    await pathway(w, "strict", award=await w.world.achievement(w.ie, title="Third award"),
                  on_component_revoked="revoke")
    async with revocation_service(settings) as revocation, serving(registry_app, settings) as registry, \
            serving(issuance_app, settings) as issuance:
        await reference_mqf(registry, w)
        await declare(registry, w, "rec-keep", pathway_ids=["keeping"], on_revoked="keep")
        await declare(registry, w, "rec-flag", pathway_ids=["flagging", "strict"], on_revoked="flag")
        await registry_caught_up(issuance, db)
        own, foreign = await issue(issuance, w.ie, w.module, "A-1"), await issue(issuance, w.my, w.my_module, "M-1")
        kept = await post(issuance, "/v1/stacks", w.ie.api_key, claim("keeping", own, foreign), 201)
        flagged = await post(issuance, "/v1/stacks", w.ie.api_key, claim("flagging", own, foreign), 201)

        # Only an agency with a say can revoke: MQA neither made nor accredits the recogniser.
        head = await ledger_head(db)
        refused = await registry.post("/v1/recognition-agreements/rec-keep/revoke", headers=bearer(w.mqa_key),
                                      json={"reason": "not ours to revoke"})
        assert refused.status == 403 and await ledger_head(db) == head
        for agreement_id in ("rec-keep", "rec-flag"):
            revoked = await post(registry, f"/v1/recognition-agreements/{agreement_id}/revoke", w.qqi_key,
                                 {"reason": "the partner programme closed"}, 200)
            assert revoked["agreement"]["status"] == "revoked" and not revoked["agreement"]["in_force"]

        async def status_of(credential_id, wanted):
            answer = await (await revocation.get(f"/v1/credentials/{credential_id}/status-history",
                                                 headers=bearer(w.ie.api_key))).json()
            return answer if answer.get("status") == wanted else None

        history = await eventually(lambda: status_of(flagged["award_credential_id"], "flagged"), timeout=10)
        assert "rec-flag" in json.dumps(history)
        assert await status_of(kept["award_credential_id"], "active")
        await registry_caught_up(issuance, db)
        await refused_claim(issuance, db, w.ie.api_key, claim("strict", own, foreign), 422, "component-not-eligible")

        # A component revoked later cascades as stacking always has: here the pathway says flag.
        await post(revocation, f"/v1/credentials/{foreign['credential_id']}/revoke", w.my.api_key,
                   {"reason_code": "misconduct", "reason": "assessment misconduct"}, 200)
        await eventually(lambda: status_of(kept["award_credential_id"], "flagged"), timeout=10)


async def test_a_credit_is_redeemed_once_per_pool_even_under_concurrent_claims(settings, db):
    w = await two_countries(db, settings)
    pool = {"credit_pool": "ie-certificates"}
    for name in ("cert-a", "cert-b", "cert-c"):
        await pathway(w, name, award=await w.world.achievement(w.ie, title=name), **pool)
    await pathway(w, "elsewhere", award=await w.world.achievement(w.ie, title="Other pool"))
    async with serving(registry_app, settings) as registry, running_relay(settings), \
            serving(issuance_app, settings) as issuance:
        await reference_mqf(registry, w)
        await declare(registry, w, "rec-mqa-6")
        await registry_caught_up(issuance, db)
        own, foreign = await issue(issuance, w.ie, w.module, "A-1"), await issue(issuance, w.my, w.my_module, "M-1")
        for _ in range(2):  # twice: the second round races with nothing left to win
            answers = await asyncio.gather(*(
                issuance.post("/v1/stacks", headers=bearer(w.ie.api_key), json=claim(name, own, foreign))
                for name in ("cert-a", "cert-b", "cert-c")))
            statuses = sorted(a.status for a in answers)
            if 201 in statuses:
                assert statuses == [201, 409, 409], statuses
                refusals = [await a.json() for a in answers if a.status == 409]
                assert {r["type"].rsplit("/", 1)[-1] for r in refusals} == {"credit-already-redeemed"}
            else:
                assert statuses == [409, 409, 409]
        assert await db.fetchval("SELECT count(*) FROM issuance.stacks") == 1
        rows = await db.fetch("SELECT credential_id, credit_pool FROM issuance.credit_redemptions")
        assert sorted((r["credential_id"], r["credit_pool"]) for r in rows) == sorted(
            [(own["credential_id"], "ie-certificates"), (foreign["credential_id"], "ie-certificates")])
        progress = await (await issuance.get(f"/v1/learners/{own['learner_key']}/pathways",
                                             headers=bearer(w.ie.api_key))).json()
        certs = [p for p in progress["pathways"] if p["pathway_id"].startswith("cert-")]
        assert sorted(p["awarded_credential_id"] is not None for p in certs) == [False, False, True]
        assert not any(p["eligible"] for p in certs)
        assert [p["eligible"] for p in progress["pathways"] if p["pathway_id"] == "elsewhere"] == [True]
        # Another pool may share the credits.
        await post(issuance, "/v1/stacks", w.ie.api_key, claim("elsewhere", own, foreign), 201)


async def test_the_credit_account_and_an_expired_credit_that_stops_counting(settings, db):
    w = await two_countries(db, settings)
    await pathway(w, "ds")
    async with serving(registry_app, settings) as registry, running_relay(settings), \
            serving(issuance_app, settings) as issuance:
        await reference_mqf(registry, w)
        await declare(registry, w, "rec-mqa-6", max_credential_age_days=3650)
        await registry_caught_up(issuance, db)
        own = await issue(issuance, w.ie, w.module, "A-1")
        today = now().date()
        expired = await issue(issuance, w.my, w.my_module, "M-old", issued_on=str(today - dt.timedelta(days=400)),
                              valid_until=str(today - dt.timedelta(days=35)))
        current = await issue(issuance, w.my, w.my_module, "M-new", valid_until=str(today + dt.timedelta(days=30)))
        await refused_claim(issuance, db, w.ie.api_key, claim("ds", own, expired), 422, "component-not-eligible",
                            "expired")
        proof = {"credential_id": expired["credential_id"], "holder_token": expired["holder_token"]}
        account = await post(issuance, "/v1/credit-account", None, proof, 200)
        entries = {e["credential_id"]: e for e in account["entries"]}
        assert set(entries) == {own["credential_id"], expired["credential_id"], current["credential_id"]}
        assert {e["issuer_id"] for e in entries.values()} == {"uni-ie", "uni-my"}
        old, new = entries[expired["credential_id"]], entries[current["credential_id"]]
        assert not old["counting"] and old["expires_at"].startswith(str(today - dt.timedelta(days=35)))
        assert new["counting"] and new["expires_at"].startswith(str(today + dt.timedelta(days=30)))
        assert new["level"] == {"framework_id": "mqf", "level_code": "MQF-6"} and new["field"] == "0613"
        stack = await post(issuance, "/v1/stacks", w.ie.api_key, claim("ds", own, current), 201)
        account = await post(issuance, "/v1/credit-account", None, proof, 200)
        redeemed = {e["credential_id"]: e["redeemed"] for e in account["entries"]}
        assert redeemed[current["credential_id"]][0]["award_credential_id"] == stack["award_credential_id"]
        assert redeemed[current["credential_id"]][0]["agreement_id"] == "rec-mqa-6"
        assert not redeemed[expired["credential_id"]]
        assert "ada@example.org" not in json.dumps(account)
        await post(issuance, "/v1/credit-account", None, {**proof, "holder_token": "wrong"}, 403)

        # The learner lets uni-ie read the account; uni-my was not asked.
        grant = await post(issuance, "/v1/credit-grants", None, {**proof, "issuer_id": "uni-ie", "valid_days": 30}, 201)
        shared = await (await issuance.get(f"/v1/credit-grants/{grant['grant_id']}/account",
                                           headers=bearer(w.ie.api_key))).json()
        assert {e["credential_id"] for e in shared["entries"]} == set(entries) | {stack["award_credential_id"]}
        other = await issuance.get(f"/v1/credit-grants/{grant['grant_id']}/account", headers=bearer(w.my.api_key))
        assert other.status == 404
        event = await db.fetchval("SELECT convert_from(payload, 'UTF8') FROM ledger.events WHERE stream_id = $1",
                                  f"credit-grant:{grant['grant_id']}")
        assert "lk$" not in event and msgspec.json.decode(event)["issuer_id"] == "uni-ie"
        await post(issuance, f"/v1/credit-grants/{grant['grant_id']}/revoke", None, proof, 204)
        after = await issuance.get(f"/v1/credit-grants/{grant['grant_id']}/account", headers=bearer(w.ie.api_key))
        assert after.status == 403
