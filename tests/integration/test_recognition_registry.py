"""Recognition agreements and framework referencing in the registry's API:
public, versioned, refused in words when wrong, and revocable only by the
agencies that have a say (through real HTTP and Postgres)."""

from __future__ import annotations

from tests.support.registry import Demo, call, refused

MQF = [{"code": f"MQF-{n}", "title": f"MQF level {n}"} for n in range(4, 9)]


async def two_agencies(registry, home: str, abroad: str, framework: str) -> tuple[Demo, Demo, str]:
    """Each test its own two jurisdictions and framework id: the module shares one registry."""
    ie = await Demo(registry, country=home).build()
    ie_module = await ie.propose(title="Data Analysis with Python")
    await ie.approve(ie_module)
    my = await Demo(registry, country=abroad).build()
    await call(registry, "POST", "/v1/frameworks", my.admin_key, {
        "framework_id": framework, "name": "Malaysian Qualifications Framework", "credit_system": "national_credits",
        "hours_per_credit": 40.0, "levels": MQF}, 201)
    my_module = await my.propose(title="Machine Learning Foundations", framework_id=framework, level_code="MQF-6")
    await my.approve(my_module)
    return ie, my, my_module


async def test_framework_referencing_is_public_and_versioned(registry, registry_db):
    ie, my, _ = await two_agencies(registry, "IE", "MY", "mqf")
    first = await call(registry, "POST", "/v1/frameworks/mqf/referencing", my.admin_key, {
        "mappings": [{"level_code": f"MQF-{n}", "target_level": str(n)} for n in range(4, 9)],
        "report_url": "https://mqa.example/eqf-referencing"}, 201)
    assert first["referencing"]["current"][0]["version"] == 1
    await call(registry, "POST", "/v1/frameworks/mqf/referencing", my.admin_key, {
        "mappings": [{"level_code": "MQF-6", "target_level": "6"}]}, 201)
    public = await call(registry, "GET", "/v1/frameworks/mqf/referencing")
    assert [v["version"] for v in public["history"]] == [1, 2]
    assert [(c["version"], c["target_framework_id"]) for c in public["current"]] == [(2, "EQF")]
    listed = await call(registry, "GET", "/v1/framework-referencing?agency_id=" + my.agency_id)
    assert len(listed["items"]) == 2

    path = "/v1/frameworks/mqf/referencing"
    await refused(registry, registry_db, "POST", path, ie.admin_key,
                  {"mappings": [{"level_code": "MQF-6", "target_level": "6"}]}, 403, "only it")
    await refused(registry, registry_db, "POST", path, my.admin_key,
                  {"mappings": [{"level_code": "MQF-9", "target_level": "6"}]}, 422, "no levels")
    await refused(registry, registry_db, "POST", path, my.admin_key,
                  {"mappings": [{"level_code": "MQF-6", "target_level": "9"}]}, 422, "EQF has no levels")
    await refused(registry, registry_db, "POST", path, my.admin_key,
                  {"target_framework_id": "mqf", "mappings": [{"level_code": "MQF-6", "target_level": "MQF-6"}]},
                  422, "not to itself")
    await refused(registry, registry_db, "POST", path, my.issuer_key,
                  {"mappings": [{"level_code": "MQF-6", "target_level": "6"}]}, 403, "for agency_admin clients")


async def test_agreements_are_declared_public_and_revoked_by_whoever_has_a_say(registry, registry_db):
    ie, my, my_module = await two_agencies(registry, "FR", "SG", "sgqf")
    body = {"agreement_id": "rec-ie-mqa", "title": "MQA level 6 computing", "credit_value": 5.0,
            "match": {"levels": ["6"], "fields": ["06"], "min_hours": 100, "accredited_by": [my.agency_id]},
            "max_credential_age_days": 1825, "on_revoked": "keep"}
    declared = await call(registry, "POST", "/v1/recognition-agreements", ie.issuer_key, body, 201)
    agreement = declared["agreement"]
    assert (agreement["recognising_kind"], agreement["recognising_id"], agreement["in_force"]) == (
        "issuer", ie.issuer_id, True)
    named = await call(registry, "POST", "/v1/recognition-agreements", ie.admin_key, {
        "title": "MQA's ML module, for every QQI-accredited issuer", "credit_value": 4.0,
        "match": {"achievement_id": my_module}}, 201)
    assert named["agreement"]["recognising_kind"] == "agency"

    public = await call(registry, "GET", "/v1/recognition-agreements/rec-ie-mqa")
    assert public["match"]["accredited_by"] == [my.agency_id] and public["on_revoked"] == "keep"
    listed = await call(registry, "GET", f"/v1/recognition-agreements?issuer_id={ie.issuer_id}")
    assert [a["agreement_id"] for a in listed["items"]] == ["rec-ie-mqa"]

    path = "/v1/recognition-agreements"
    for wrong, says in [
        ({**body, "agreement_id": None, "match": {}}, "needs an achievement_id"),
        ({**body, "agreement_id": None, "match": {"framework_id": "nope", "levels": ["6"]}}, "no framework"),
        ({**body, "agreement_id": None, "match": {"framework_id": "sgqf", "levels": ["MQF-99"]}}, "no levels"),
        ({**body, "agreement_id": None, "credit_value": 0}, "greater than zero"),
        ({**body, "agreement_id": None, "valid_from": "2020-01-01T00:00:00Z"}, "in the past"),
        ({**body, "agreement_id": None, "match": {"levels": ["6"], "accredited_by": ["agency-xx"]}}, "no agencies"),
        ({**body, "agreement_id": None, "pathway_ids": ["no-such-pathway"]}, "no pathway"),
        ({**body, "agreement_id": None, "match": {"achievement_id": ie.achievements[0]}}, "the issuer's own"),
    ]:
        await refused(registry, registry_db, "POST", path, ie.issuer_key, wrong, 422, says)
    await refused(registry, registry_db, "POST", path, ie.issuer_key, body, 409, "already exists")

    revoke = "/v1/recognition-agreements/rec-ie-mqa/revoke"
    await refused(registry, registry_db, "POST", revoke, my.admin_key, {"reason": "not ours"}, 403,
                  "has not accredited")
    await refused(registry, registry_db, "POST", revoke, my.issuer_key, {"reason": "not ours"}, 403, "it cannot")
    revoked = await call(registry, "POST", revoke, ie.admin_key, {"reason": "partner programme closed"})
    assert revoked["agreement"]["status"] == "revoked" and not revoked["agreement"]["in_force"]
    assert revoked["agreement"]["revocation"]["revoked_by"] == ie.agency_id
    await refused(registry, registry_db, "POST", revoke, ie.admin_key, {"reason": "again"}, 409, "already revoked")
    assert [a["agreement_id"] for a in (await call(registry, "GET", f"{path}?status=revoked"))["items"]] == [
        "rec-ie-mqa"]
