"""Achievement specifications and stacking pathways through the registry's
real HTTP API: issuers propose, accrediting agencies decide, the public sees
only what was approved."""

from __future__ import annotations

import asyncio

from tests.support.ledger import ledger_head
from tests.support.registry import Demo, call, refused, registry_state, spec


async def test_achievement_is_public_only_once_approved(registry, registry_db, registry_settings):
    demo = await Demo(registry, "IE").build()
    achievement_id = await demo.propose(title="Cloud Security Fundamentals")
    path = f"/v1/achievements/{achievement_id}"
    await refused(registry, registry_db, "GET", path, None, None, 404, "no approved achievement")
    assert achievement_id not in [a["achievement_id"] for a in (await call(registry, "GET", "/v1/achievements"))["items"]]
    # Its issuer and the agency see it, e.g. as the agency's review queue.
    assert (await call(registry, "GET", path, demo.issuer_key))["status"] == "proposed"
    queue = await call(registry, "GET", "/v1/achievements?status=proposed", demo.admin_key)
    assert [a["achievement_id"] for a in queue["items"]] == [achievement_id]
    # Issuance reads the registry's events: not approved, not issuable.
    assert (await registry_state(registry_db)).approved_achievement(achievement_id) is None

    approved = await demo.approve(achievement_id)
    assert approved["achievement"]["status"] == "approved" and len(approved["positions"]) == 1
    assert approved["achievement"]["decided_by"] == demo.agency_id
    assert (await registry_state(registry_db)).approved_achievement(achievement_id).approved_by == demo.agency_id
    public = await call(registry, "GET", path)
    assert public["spec"]["title"] == "Cloud Security Fundamentals"
    listed = await call(registry, "GET", "/v1/achievements?country=IE&eqf_level=6&status=approved")
    assert [a["achievement_id"] for a in listed["items"]] == [achievement_id]
    assert (await call(registry, "GET", "/v1/achievements?country=IE&eqf_level=7"))["items"] == []

    badge = await call(registry, "GET", f"{path}/ob3")
    assert badge["type"] == ["Achievement"] and badge["achievementType"] == "MicroCredential"
    assert badge["id"] == f"{registry_settings.public_base_url}/achievements/{achievement_id}"
    assert badge == await call(registry, "GET", f"/achievements/{achievement_id}")
    assert badge["name"] == "Cloud Security Fundamentals" and badge["creditsAvailable"] == 5.0
    assert badge["euStandardElements"]["learningOutcomes"][0] == "Clean a dataset"
    assert badge["creator"]["id"] == (await call(registry, "GET", f"/v1/issuers/{demo.issuer_id}"))["did"]
    assert {a["targetCode"] for a in badge["alignment"] if "targetCode" in a} == {"6"}
    assert any(a["targetUrl"] == "http://data.europa.eu/esco/skill/abc" for a in badge["alignment"])
    await refused(registry, registry_db, "POST", f"{path}/approve", demo.admin_key, None, 409, "is approved")


async def test_only_an_accrediting_agency_within_its_scope_approves(registry, registry_db):
    demo = await Demo(registry, "NL").build()
    beyond = await demo.propose(eqf_level=8)
    out_of_field = await demo.propose(field="0912")
    within = await demo.propose()
    other = Demo(registry, "NL", agency_id="nl-sub")
    other.admin_key = (await call(registry, "POST", "/v1/agencies", demo.admin_key,
                                  {"agency_id": "nl-sub", "name": "Sub", "jurisdiction": "NL"}, 201))["admin_api_key"]
    await refused(registry, registry_db, "POST", f"/v1/achievements/{beyond}/approve", demo.admin_key, None, 403,
                  "EQF level 8 is outside")
    await refused(registry, registry_db, "POST", f"/v1/achievements/{out_of_field}/approve", demo.admin_key, None, 403,
                  "field 0912")
    await refused(registry, registry_db, "POST", f"/v1/achievements/{within}/approve", other.admin_key, None, 403,
                  "has not accredited")
    await refused(registry, registry_db, "POST", f"/v1/achievements/{within}/approve", demo.issuer_key, None, 403,
                  "agency_admin")
    await call(registry, "POST", f"/v1/accreditations/{demo.accreditation_id}/suspend", demo.admin_key,
               {"reason": "inspection"})
    await refused(registry, registry_db, "POST", f"/v1/achievements/{within}/approve", demo.admin_key, None, 403,
                  "not in force")
    await call(registry, "POST", f"/v1/accreditations/{demo.accreditation_id}/reinstate", demo.admin_key)
    await demo.approve(within)
    # An issuer proposes only as itself, and only the issuer proposes.
    await refused(registry, registry_db, "POST", "/v1/achievements", demo.admin_key, {"spec": spec(country="NL")},
                  403, "issuer")


async def test_achievement_specs_are_validated(registry, registry_db):
    demo = await Demo(registry, "SE").build()
    await call(registry, "POST", "/v1/frameworks", demo.admin_key, {
        "framework_id": "seqf", "name": "SeQF", "credit_system": "ECTS", "hours_per_credit": 26.7,
        "levels": [{"code": "SeQF6", "title": "Kandidat", "eqf_level": 6}]}, 201)
    cases = [
        (spec(country="NO"), "country must be the awarding issuer's country SE"),
        (spec(country="SE", eqf_level=9), "spec.eqf_level: Expected `int` <= 8"),
        (spec(country="SE", field="ICT"), "ISCED-F"),
        (spec(country="SE", workload={}), "ECTS credits or hours"),
        (spec(country="SE", learning_outcomes=[]), "learning outcome"),
        (spec(country="SE", framework_id="nope"), "no framework 'nope'"),
        (spec(country="SE", framework_id="seqf", level_code="SeQF9"), "has no level 'SeQF9'"),
        (spec(country="SE", framework_id="seqf", level_code="SeQF6", eqf_level=7), "maps to EQF 6"),
        (spec(country="SE", skills=[{"uri": "esco:123", "name": "x"}]), "http(s) URI"),
        (spec(country="SE", participation_form="carrier pigeon"), "participation_form"),
        ({**spec(country="SE"), "colour": "blue"}, "colour"),
    ]
    for body, says in cases:
        await refused(registry, registry_db, "POST", "/v1/achievements", demo.issuer_key, {"spec": body}, 422, says)
    await call(registry, "POST", "/v1/achievements", demo.issuer_key,
               {"spec": spec(country="SE", framework_id="seqf", level_code="SeQF6"), "achievement_id": "se-data"}, 201)
    await refused(registry, registry_db, "POST", "/v1/achievements", demo.issuer_key,
                  {"spec": spec(country="SE"), "achievement_id": "se-data"}, 409, "already exists")


async def test_reject_and_withdraw_with_reasons(registry, registry_db):
    demo = await Demo(registry, "NO").build()
    rejected, withdrawn = await demo.propose(), await demo.propose()
    await refused(registry, registry_db, "POST", f"/v1/achievements/{rejected}/reject", demo.admin_key, {}, 422, "reason")
    view = (await call(registry, "POST", f"/v1/achievements/{rejected}/reject", demo.admin_key,
                       {"reason": "learning outcomes are not assessable"}))["achievement"]
    assert (view["status"], view["status_reason"]) == ("rejected", "learning outcomes are not assessable")
    await refused(registry, registry_db, "POST", f"/v1/achievements/{rejected}/approve", demo.admin_key, None, 409,
                  "is rejected")
    await demo.approve(withdrawn)
    view = (await call(registry, "POST", f"/v1/achievements/{withdrawn}/withdraw", demo.issuer_key,
                       {"reason": "programme discontinued"}))["achievement"]
    assert view["status"] == "withdrawn"
    assert (await registry_state(registry_db)).approved_achievement(withdrawn) is None
    # Credentials issued before the withdrawal still name its id; a rejected one never had a public id.
    assert (await call(registry, "GET", f"/achievements/{withdrawn}"))["type"] == ["Achievement"]
    await refused(registry, registry_db, "GET", f"/achievements/{rejected}", None, None, 404, "no published")
    await refused(registry, registry_db, "POST", f"/v1/achievements/{withdrawn}/withdraw", demo.issuer_key,
                  {"reason": "again"}, 409, "is withdrawn")


async def test_concurrent_decisions_on_one_achievement_append_once(registry, registry_db):
    demo = await Demo(registry, "DE").build()
    achievement_id = await demo.propose()
    before = await ledger_head(registry_db)
    responses = await asyncio.gather(*(
        registry.post(f"/v1/achievements/{achievement_id}/{verb}", json=body,
                      headers={"Authorization": f"Bearer {demo.admin_key}"})
        for verb, body in [("approve", None), ("reject", {"reason": "not assessable"})] * 2))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 409, 409, 409], statuses
    assert await ledger_head(registry_db) == before + 1
    versions = await registry_db.fetch(
        "SELECT version FROM ledger.events WHERE stream_id = $1 ORDER BY version", f"achievement:{achievement_id}")
    assert [r["version"] for r in versions] == [1, 2]


async def test_pathways_are_proposed_by_issuers_and_approved_by_agencies(registry, registry_db):
    demo = await Demo(registry, "FR").build()
    parts = [await demo.propose(title=f"Module {n}") for n in range(3)]
    award = await demo.propose(title="Certificate in Data Science", workload={"ects": 30.0})
    rule = {"required": [parts[0]], "choices": [{"k": 1, "of": parts[1:]}], "min_credits": 10.0,
            "min_eqf_level": 6, "max_component_age_days": 1825, "on_component_revoked": "revoke"}
    body = {"pathway_id": "fr-data", "title": "Data Science stack", "award_achievement_id": award, "rule": rule}
    other = Demo(registry, "FR", issuer_id="fr-other")
    await demo.register_issuer("fr-other")
    other.issuer_key = await demo.issuer_client("fr-other")
    foreign = await demo.propose(key=other.issuer_key)
    cases = [
        ({**body, "rule": {**rule, "required": ["ghost"]}}, 422, "no achievements ['ghost']"),
        ({**body, "rule": {**rule, "choices": [{"k": 3, "of": parts[1:]}]}}, 422, "1 <= k"),
        ({**body, "rule": {**rule, "required": [award]}}, 422, "its own components"),
        ({**body, "rule": {"required": [], "choices": []}}, 422, "needs components"),
        ({**body, "rule": {**rule, "required": [parts[0], foreign]}}, 422, "allow_other_issuers"),
        ({**body, "award_achievement_id": foreign}, 403, "belongs to issuer 'fr-other'"),
    ]
    for case, status, says in cases:
        await refused(registry, registry_db, "POST", "/v1/pathways", demo.issuer_key, case, status, says)
    await refused(registry, registry_db, "POST", "/v1/pathways", demo.admin_key, body, 403, "issuer")
    proposed = await call(registry, "POST", "/v1/pathways", demo.issuer_key, body, 201)
    assert proposed["pathway"]["status"] == "proposed"
    await refused(registry, registry_db, "GET", "/v1/pathways/fr-data", None, None, 404, "no approved pathway")
    # Components must be approved first.
    await refused(registry, registry_db, "POST", "/v1/pathways/fr-data/approve", demo.admin_key, None, 409,
                  "not approved")
    for achievement_id in [*parts, award]:
        await demo.approve(achievement_id)
    await refused(registry, registry_db, "POST", "/v1/pathways/fr-data/approve", other.issuer_key, None, 403,
                  "agency_admin")
    approved = await call(registry, "POST", "/v1/pathways/fr-data/approve", demo.admin_key)
    assert (approved["pathway"]["status"], approved["pathway"]["decided_by"]) == ("approved", demo.agency_id)
    assert (await registry_state(registry_db)).pathways["fr-data"].status == "approved"
    public = await call(registry, "GET", "/v1/pathways?country=FR&eqf_level=6")
    assert [p["pathway_id"] for p in public["items"]] == ["fr-data"]
    assert (await call(registry, "GET", "/v1/pathways/fr-data"))["rule"]["choices"][0]["k"] == 1
    await refused(registry, registry_db, "POST", "/v1/pathways/fr-data/withdraw", other.issuer_key,
                  {"reason": "not mine"}, 403, "belongs to issuer 'fr-other'")
    withdrawn = await call(registry, "POST", "/v1/pathways/fr-data/withdraw", demo.issuer_key,
                           {"reason": "replaced by a new programme"})
    assert withdrawn["pathway"]["status"] == "withdrawn"
    assert (await call(registry, "GET", "/v1/pathways?country=FR"))["items"] == []
