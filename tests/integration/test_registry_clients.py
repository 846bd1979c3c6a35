"""API clients through the registry's real HTTP API: agencies create them for
their issuers, employers and auditors; keys are shown once, stored hashed,
and stop working when revoked."""

from __future__ import annotations

import asyncio

import pytest

from shared.auth import Authenticator, hash_api_key
from shared.refusals import Unauthenticated
from tests.support.http import bearer
from tests.support.registry import PLATFORM, Demo, call, refused


async def refused_key(db, key: str) -> None:
    with pytest.raises(Unauthenticated):
        await Authenticator(db).authenticate(f"Bearer {key}")


async def test_keys_are_shown_once_stored_hashed_and_work(registry, registry_db):
    demo = await Demo(registry, "IE").build()
    created = await call(registry, "POST", "/v1/clients", demo.admin_key,
                         {"role": "employer", "tenant_id": "acme-hr", "name": "Acme HR screening",
                          "rate_limit_class": "bulk"}, 201)
    key = created["api_key"]
    assert created["client"]["rate_limit_class"] == "bulk" and len(created["positions"]) == 2
    me = await call(registry, "GET", "/v1/whoami", key)
    assert me == {"client_id": created["client"]["client_id"], "role": "employer", "tenant_id": "acme-hr"}
    stored = await registry_db.fetchval("SELECT key_hash FROM registry.api_keys WHERE key_id = $1", created["key_id"])
    assert bytes(stored) == hash_api_key(key)
    view = await call(registry, "GET", f"/v1/clients/{created['client']['client_id']}", demo.admin_key)
    assert key not in str(view) and [k["key_id"] for k in view["keys"]] == [created["key_id"]]
    # The employer sees its own client; the agency sees the clients it made.
    assert await call(registry, "GET", f"/v1/clients/{view['client_id']}", key) == view
    mine = await call(registry, "GET", "/v1/clients?role=employer", demo.admin_key)
    assert [c["client_id"] for c in mine["items"]] == [view["client_id"]]


async def test_revoked_keys_and_clients_stop_working(registry, registry_db):
    demo = await Demo(registry, "MT").build()
    created = await call(registry, "POST", "/v1/clients", demo.admin_key,
                         {"role": "auditor", "tenant_id": "mt-audit-office", "name": "National Audit Office"}, 201)
    client_id, first = created["client"]["client_id"], created["api_key"]
    second = await call(registry, "POST", f"/v1/clients/{client_id}/keys", demo.admin_key, None, 201)
    assert second["api_key"] != first
    revoked = await call(registry, "POST", f"/v1/clients/{client_id}/keys/{created['key_id']}/revoke", demo.admin_key)
    assert [k["revoked_at"] is not None for k in revoked["client"]["keys"]] == [True, False]
    await refused(registry, registry_db, "POST", f"/v1/clients/{client_id}/keys/{created['key_id']}/revoke",
                  demo.admin_key, None, 409, "already revoked")
    # Every service authenticates with shared/auth.py against these tables; a
    # fresh authenticator (no cache) sees a revocation at once, a cached one
    # within its TTL.
    assert (await Authenticator(registry_db).authenticate(f"Bearer {second['api_key']}")).tenant_id == "mt-audit-office"
    await refused_key(registry_db, first)
    await call(registry, "POST", f"/v1/clients/{client_id}/revoke", demo.admin_key)
    await refused_key(registry_db, second["api_key"])
    await refused(registry, registry_db, "POST", f"/v1/clients/{client_id}/keys", demo.admin_key, None, 409,
                  "was revoked")
    assert (await call(registry, "GET", "/v1/clients?status=revoked", demo.admin_key))["items"][0]["client_id"] == client_id


async def test_agencies_create_clients_only_for_their_own_tenants(registry, registry_db):
    irish = await Demo(registry, "PT").build()
    french = await Demo(registry, "ES").build()
    cases = [
        ({"role": "issuer", "tenant_id": french.issuer_id, "name": "x"}, 403, "does not oversee"),
        ({"role": "agency_admin", "tenant_id": french.agency_id, "name": "x"}, 403, "does not oversee"),
        ({"role": "issuer", "tenant_id": irish.agency_id, "name": "x"}, 422, "is an agency"),
        ({"role": "agency_admin", "tenant_id": irish.issuer_id, "name": "x"}, 422, "is an issuer"),
        ({"role": "employer", "tenant_id": irish.issuer_id, "name": "x"}, 422, "tenant of its own"),
        ({"role": "issuer", "tenant_id": "ghost-uni", "name": "x"}, 422, "not a registered"),
        ({"role": "superuser", "tenant_id": "acme", "name": "x"}, 422, "role"),
        ({"role": "employer", "tenant_id": "platform", "name": "x"}, 403, "platform tenant"),
    ]
    for body, status, says in cases:
        await refused(registry, registry_db, "POST", "/v1/clients", irish.admin_key, body, status, says)
    await refused(registry, registry_db, "POST", "/v1/clients", irish.issuer_key,
                  {"role": "employer", "tenant_id": "acme", "name": "x"}, 403, "agency_admin")
    foreign = (await call(registry, "GET", "/v1/clients?role=issuer", french.admin_key))["items"][0]["client_id"]
    await refused(registry, registry_db, "POST", f"/v1/clients/{foreign}/revoke", irish.admin_key, None, 403,
                  "does not oversee")
    await refused(registry, registry_db, "GET", f"/v1/clients/{foreign}", irish.issuer_key, None, 403, "is not its own")
    assert foreign not in [c["client_id"] for c in (await call(registry, "GET", "/v1/clients", irish.admin_key))["items"]]
    # The platform key may create any agency's admin clients.
    extra = await call(registry, "POST", "/v1/clients", PLATFORM,
                       {"role": "agency_admin", "tenant_id": french.agency_id, "name": "second admin"}, 201)
    assert (await call(registry, "GET", "/v1/whoami", extra["api_key"]))["tenant_id"] == french.agency_id


async def test_an_organisation_tenant_belongs_to_the_agency_that_registered_it(registry, registry_db):
    first, second = await Demo(registry, "LU").build(), await Demo(registry, "LT").build()
    body = {"role": "employer", "tenant_id": "baltic-hr", "name": "x"}
    answers = await asyncio.gather(*(registry.post("/v1/clients", json=body, headers=bearer(demo.admin_key))
                                     for demo in (first, second)))
    assert sorted(a.status for a in answers) == [201, 403]  # concurrent first clients: one registers it
    owner, other = (first, second) if answers[0].status == 201 else (second, first)
    before = await registry_db.fetchval("SELECT count(*) FROM registry.api_clients WHERE tenant_id = 'baltic-hr'")
    await refused(registry, registry_db, "POST", "/v1/clients", other.admin_key, body, 403, "does not oversee")
    await refused(registry, registry_db, "POST", "/v1/clients", owner.admin_key,
                  {**body, "role": "auditor"}, 422, "is an employer tenant")
    await call(registry, "POST", "/v1/clients", owner.admin_key, body, 201)
    assert await registry_db.fetchval(
        "SELECT count(*) FROM registry.api_clients WHERE tenant_id = 'baltic-hr'") == before + 1
