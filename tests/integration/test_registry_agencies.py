"""Agencies, delegation, accreditation and frameworks through the registry's
real HTTP API, Postgres and broker. Each test works in its own jurisdiction
of the module's shared registry (see tests/support/registry.py)."""

from __future__ import annotations

from shared.timeutil import now
from tests.support.ledger import ledger_head
from tests.support.registry import PLATFORM, Demo, call, refused, registry_state


async def test_root_agency_bootstrap_returns_a_working_admin_key(registry, registry_db):
    before = await ledger_head(registry_db)
    created = await Demo(registry, "IE", agency_id="qqi").create_agency()
    assert created["agency"]["agency_id"] == "qqi"
    assert created["agency"]["parent_agency_id"] is None
    assert created["agency"]["scope"]["eqf_levels"] == list(range(1, 9))
    assert created["positions"] == list(range(before + 1, before + 4))
    me = await call(registry, "GET", "/v1/whoami", created["admin_api_key"])
    assert me == {"client_id": created["admin_client_id"], "role": "agency_admin", "tenant_id": "qqi"}
    # Read after write: the projection committed together with the events.
    assert (await call(registry, "GET", "/v1/agencies/qqi"))["jurisdiction"] == "IE"
    # The key itself is in no event, only its hash.
    hits = await registry_db.fetchval(
        "SELECT count(*) FROM ledger.events WHERE position(convert_to($1, 'UTF8') in payload) > 0",
        created["admin_api_key"])
    assert hits == 0
    # One root agency per jurisdiction.
    await refused(registry, registry_db, "POST", "/v1/agencies", PLATFORM,
                  {"name": "Second Irish root", "jurisdiction": "IE"}, 409, "already has a root agency, 'qqi'")


async def test_only_the_platform_key_creates_root_agencies(registry, registry_db):
    demo = await Demo(registry, "MT").build()
    employer = await call(registry, "POST", "/v1/clients", demo.admin_key,
                          {"role": "employer", "tenant_id": "acme-hr-mt", "name": "Acme HR"}, 201)
    body = {"name": "Rogue", "jurisdiction": "MT"}
    await refused(registry, registry_db, "POST", "/v1/agencies", demo.issuer_key, body, 403, "agency_admin")
    await refused(registry, registry_db, "POST", "/v1/agencies", employer["api_key"], body, 403, "agency_admin")
    await refused(registry, registry_db, "POST", "/v1/agencies", None, body, 401, "api key")
    # An agency admin's new agency is a sub-agency, never a second root.
    sub = await call(registry, "POST", "/v1/agencies", demo.admin_key,
                     {"agency_id": "mt-fe", "name": "Further Education Board", "jurisdiction": "MT"}, 201)
    assert sub["agency"]["parent_agency_id"] == demo.agency_id
    # The platform key bootstraps; it does not act as an agency.
    await refused(registry, registry_db, "POST", "/v1/issuers", PLATFORM,
                  {"legal_name": "X", "country": "MT"}, 403, "platform key")


async def test_sub_agencies_act_only_within_delegated_scope_and_jurisdiction(registry, registry_db):
    root = Demo(registry, "BE")
    await root.create_agency(levels=[4, 5, 6, 7, 8])
    # Nobody delegates beyond their own scope or jurisdiction.
    await refused(registry, registry_db, "POST", "/v1/agencies", root.admin_key,
                  {"name": "Schools", "jurisdiction": "BE", "scope": {"eqf_levels": [2, 3, 4]}},
                  403, "EQF levels 2, 3")
    await refused(registry, registry_db, "POST", "/v1/agencies", root.admin_key,
                  {"name": "Dutch office", "jurisdiction": "NL"}, 403, "only in BE")
    sub = await call(registry, "POST", "/v1/agencies", root.admin_key, {
        "agency_id": "be-vlg", "name": "Flemish higher education", "jurisdiction": "BE-VLG",
        "scope": {"eqf_levels": [6, 7], "fields": ["06"]}}, 201)
    assert len(sub["positions"]) == 4  # agency, delegation, admin client, admin key
    delegation = (await call(registry, "GET", "/v1/accreditations?subject_id=be-vlg"))["items"][0]
    assert (delegation["accreditor_id"], delegation["subject_kind"], delegation["in_force"]) == ("agency-be", "agency", True)
    sub_admin = Demo(registry, "BE", agency_id="be-vlg", admin_key=sub["admin_api_key"])
    await sub_admin.register_issuer("ku-leuven")
    grant = {"subject_kind": "issuer", "subject_id": "ku-leuven", "scope": {"eqf_levels": [7, 8], "fields": ["06"]}}
    await refused(registry, registry_db, "POST", "/v1/accreditations", sub_admin.admin_key, grant, 403, "EQF level 8")
    grant["scope"] = {"eqf_levels": [7], "fields": ["0413"]}
    await refused(registry, registry_db, "POST", "/v1/accreditations", sub_admin.admin_key, grant, 403, "fields ['0413']")
    grant["scope"] = {"eqf_levels": [7], "fields": ["0613"]}
    await call(registry, "POST", "/v1/accreditations", sub_admin.admin_key, grant, 201)
    sub_admin.issuer_id = "ku-leuven"
    await sub_admin.issuer_client()
    proposal = await sub_admin.propose(eqf_level=7)
    assert (await call(registry, "GET", "/v1/issuers/ku-leuven"))["accredited"] is True
    # The parent suspends the delegation: the sub-agency can no longer act,
    # and what it granted is not in force meanwhile.
    await call(registry, "POST", f"/v1/accreditations/{delegation['accreditation_id']}/suspend", root.admin_key,
               {"reason": "annual review overdue"})
    await refused(registry, registry_db, "POST", "/v1/accreditations", sub_admin.admin_key, grant, 403,
                  "no delegation in force")
    await refused(registry, registry_db, "POST", f"/v1/achievements/{proposal}/approve", sub_admin.admin_key, None,
                  403, "no delegation in force")
    assert (await call(registry, "GET", "/v1/issuers/ku-leuven"))["accredited"] is False
    assert (await call(registry, "GET", "/v1/issuers?country=BE&status=accredited"))["items"] == []
    assert (await registry_state(registry_db)).accreditation_for("ku-leuven", now(), 7, "0613") is None
    # A sub-agency cannot act on its parent's grants.
    await refused(registry, registry_db, "POST", f"/v1/accreditations/{delegation['accreditation_id']}/reinstate",
                  sub_admin.admin_key, None, 403, "granted by agency 'agency-be'")


async def test_agencies_act_only_within_their_jurisdiction(registry, registry_db):
    dutch = await Demo(registry, "NL").build()
    french = Demo(registry, "FR")
    await french.create_agency()
    await refused(registry, registry_db, "POST", "/v1/issuers", dutch.admin_key,
                  {"legal_name": "Sorbonne", "country": "FR"}, 403, "outside its jurisdiction")
    await refused(registry, registry_db, "POST", "/v1/accreditations", french.admin_key,
                  {"subject_kind": "issuer", "subject_id": dutch.issuer_id, "scope": {"eqf_levels": [6]}},
                  403, "outside agency 'agency-fr'")
    await refused(registry, registry_db, "POST", f"/v1/accreditations/{dutch.accreditation_id}/suspend",
                  french.admin_key, {"reason": "not ours"}, 403, "granted by agency 'agency-nl'")
    await refused(registry, registry_db, "PATCH", f"/v1/issuers/{dutch.issuer_id}", french.admin_key,
                  {"homepage": "https://evil.example"}, 403, "does not oversee")
    await refused(registry, registry_db, "POST", "/v1/agencies", french.admin_key,
                  {"name": "Sub", "jurisdiction": "NL"}, 403, "only in FR")


async def test_accreditation_suspension_reinstatement_and_withdrawal(registry, registry_db):
    demo = await Demo(registry, "PT").build()
    path = f"/v1/accreditations/{demo.accreditation_id}"
    suspended = await call(registry, "POST", f"{path}/suspend", demo.admin_key, {"reason": "complaint under review"})
    assert (suspended["accreditation"]["status"], suspended["accreditation"]["in_force"]) == ("suspended", False)
    assert len(suspended["positions"]) == 1
    assert (await call(registry, "GET", f"/v1/issuers/{demo.issuer_id}"))["accredited"] is False
    await refused(registry, registry_db, "POST", f"{path}/suspend", demo.admin_key, {"reason": "again"}, 409,
                  "is suspended")
    await refused(registry, registry_db, "POST", f"{path}/suspend", demo.admin_key, {"reason": ""}, 422, "length")
    view = (await call(registry, "POST", f"{path}/reinstate", demo.admin_key))["accreditation"]
    assert (view["status"], view["in_force"]) == ("active", True)
    assert view["suspensions"][0]["reason"] == "complaint under review"
    assert view["suspensions"][0]["until"] is not None
    await refused(registry, registry_db, "POST", f"{path}/withdraw", demo.admin_key,
                  {"reason": "fraud found", "credentials_policy": "revoke_issued_after"}, 422, "revoke_issued_after")
    withdrawn = await call(registry, "POST", f"{path}/withdraw", demo.admin_key, {
        "reason": "fraud found", "credentials_policy": "revoke_issued_after",
        "revoke_issued_after": "2026-01-01T00:00:00Z"})
    assert withdrawn["accreditation"]["withdrawal"]["credentials_policy"] == "revoke_issued_after"
    assert withdrawn["accreditation"]["withdrawal"]["revoke_issued_after"] == "2026-01-01T00:00:00Z"
    await refused(registry, registry_db, "POST", f"{path}/reinstate", demo.admin_key, None, 409, "is withdrawn")
    listed = await call(registry, "GET", "/v1/accreditations?status=withdrawn&country=PT&eqf_level=6")
    assert [a["accreditation_id"] for a in listed["items"]] == [demo.accreditation_id]
    assert (await call(registry, "GET", f"/v1/accreditations?status=active&subject_id={demo.issuer_id}"))["items"] == []


async def test_accreditation_windows_and_scopes_are_validated(registry, registry_db):
    demo = Demo(registry, "LU")
    await demo.create_agency(levels=[5, 6, 7])
    await demo.register_issuer()
    base = {"subject_kind": "issuer", "subject_id": demo.issuer_id}
    cases = [
        ({"scope": {"eqf_levels": [6]}, "valid_from": "2020-01-01T00:00:00Z"}, 422, "cannot be in the past"),
        ({"scope": {"eqf_levels": [6]}, "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z"},
         422, "after valid_from"),
        ({"scope": {"eqf_levels": [6]}, "valid_from": "2030-01-01T00:00:00"}, 422, "timezone"),
        ({"scope": {"eqf_levels": [9]}}, 422, "scope.eqf_levels[0]: Expected `int` <= 8"),
        ({"scope": {"eqf_levels": []}}, 403, "every EQF level"),
        ({"scope": {"eqf_levels": [6], "fields": ["IT"]}}, 422, "ISCED-F"),
        ({"scope": {"eqf_levels": [6], "frameworks": ["nfq-lu"]}}, 422, "no framework 'nfq-lu'"),
        ({"scope": {"eqf_levels": [6]}, "subject_id": "nobody"}, 404, "no issuer 'nobody'"),
    ]
    for body, status, says in cases:
        await refused(registry, registry_db, "POST", "/v1/accreditations", demo.admin_key, base | body, status, says)
    future = base | {"scope": {"eqf_levels": [6]}, "valid_from": "2099-01-01T00:00:00Z"}
    written = await call(registry, "POST", "/v1/accreditations", demo.admin_key, future, 201)
    # Granted but not yet in force: the issuer is not accredited now.
    assert written["accreditation"]["in_force"] is False
    assert (await call(registry, "GET", f"/v1/issuers/{demo.issuer_id}"))["accredited"] is False


async def test_frameworks_are_published_and_checked(registry, registry_db):
    demo = Demo(registry, "SI")
    await demo.create_agency()
    nfq = {"framework_id": "sqf", "name": "Slovenian Qualifications Framework", "credit_system": "ECTS",
           "hours_per_credit": 25, "levels": [{"code": "SQF7", "title": "Bachelor", "eqf_level": 6},
                                              {"code": "SQF8", "title": "Master", "eqf_level": 7}]}
    for body, says in [({**nfq, "hours_per_credit": None}, "hours_per_credit"),
                       ({**nfq, "levels": [nfq["levels"][0], nfq["levels"][0]]}, "unique"),
                       ({**nfq, "levels": []}, "length"),
                       ({**nfq, "credit_system": "credits"}, "credit_system")]:
        await refused(registry, registry_db, "POST", "/v1/frameworks", demo.admin_key, body, 422, says)
    written = await call(registry, "POST", "/v1/frameworks", demo.admin_key, nfq, 201)
    assert written["framework"]["levels"][1]["eqf_level"] == 7
    await refused(registry, registry_db, "POST", "/v1/frameworks", demo.admin_key, nfq, 409, "already exists")
    assert (await call(registry, "GET", "/v1/frameworks/sqf"))["agency_id"] == demo.agency_id
    listed = await call(registry, "GET", f"/v1/frameworks?agency_id={demo.agency_id}")
    assert [f["framework_id"] for f in listed["items"]] == ["sqf"]
    # A scope may now name it.
    await demo.register_issuer()
    grant = {"subject_kind": "issuer", "subject_id": demo.issuer_id, "scope": {"eqf_levels": [6], "frameworks": ["sqf"]}}
    await call(registry, "POST", "/v1/accreditations", demo.admin_key, grant, 201)


async def test_malformed_requests_are_problems_that_write_nothing(registry, registry_db):
    demo = await Demo(registry, "AT").build()
    before = await ledger_head(registry_db)
    for raw, status in [(b"{not json", 400), (b"", 400), (b'{"name": 5, "jurisdiction": "AT"}', 422),
                        (b'{"name": "X", "jurisdiction": "AT", "colour": "red"}', 422),
                        (b'{"name": "X", "jurisdiction": "austria"}', 422)]:
        response = await registry.post("/v1/agencies", data=raw, headers={
            "Authorization": f"Bearer {demo.admin_key}", "Content-Type": "application/json"})
        assert response.status == status, await response.text()
        assert response.content_type == "application/problem+json"
    assert await ledger_head(registry_db) == before
    await refused(registry, registry_db, "POST", "/v1/accreditations/nope/suspend", demo.admin_key,
                  {"reason": "unknown id"}, 404, "no accreditation 'nope'")
    await refused(registry, registry_db, "GET", "/v1/agencies?eqf_level=9", None, None, 400, "from 1 to 8")
    await refused(registry, registry_db, "GET", "/v1/agencies?cursor=bogus", None, None, 400, "cursor")
    await refused(registry, registry_db, "GET", "/v1/agencies?country=Austria", None, None, 400, "alpha-2")
