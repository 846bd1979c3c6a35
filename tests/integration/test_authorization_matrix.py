"""The authorization matrix (services/registry/authorization.py, mirrored in
docs/authorization.md), walked over real HTTP: the registry, issuance and
revocation services on one real Postgres. Every cell is tried against a
tenant of each relation (own, in the caller's agency subtree, foreign):
an allowed cell succeeds, a refused one is a 403 or 404 that writes nothing."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.issuance.app import create_app as issuance_app
from services.registry.app import create_app as registry_app
from services.registry.authorization import CALLERS, MATRIX, permits
from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.multibase import public_key_to_multibase
from tests.support.http import bearer, serving
from tests.support.issuance import registry_caught_up
from tests.support.ledger import ledger_head
from tests.support.registry import PLATFORM, Demo, call
from tests.support.revocation import revocation_service

DOC = Path(__file__).parents[2] / "docs" / "authorization.md"
ROLE_OF_KIND = {"agency": "agency_admin", "issuer": "issuer", "employer": "employer", "auditor": "auditor"}


@dataclass
class Tenant:
    tenant_id: str
    kind: str  # agency, issuer, employer, auditor
    client_id: str = ""
    key: str = ""
    unapproved: str = ""  # issuers: a proposed, unapproved achievement
    credentials: list[dict] = field(default_factory=list)  # issuers: issued credentials, each used once


@dataclass
class Services:
    registry: TestClient
    issuance: TestClient
    revocation: TestClient


async def new_client(registry: TestClient, tenant: Tenant, key: str = PLATFORM) -> dict:
    return await call(registry, "POST", "/v1/clients", key, {
        "role": ROLE_OF_KIND[tenant.kind], "tenant_id": tenant.tenant_id, "name": f"{tenant.tenant_id} client"}, 201)


async def organisation(registry: TestClient, agency_key: str, tenant_id: str, kind: str) -> Tenant:
    """An employer or auditor tenant, registered by the agency whose key creates its first client."""
    tenant = Tenant(tenant_id, kind)
    created = await new_client(registry, tenant, agency_key)
    tenant.client_id, tenant.key = created["client"]["client_id"], created["api_key"]
    return tenant


async def university(services: Services, demo: Demo) -> Tenant:
    await demo.build()
    approved = await demo.propose()
    await demo.approve(approved)
    issuer = Tenant(demo.issuer_id, "issuer", key=demo.issuer_key)
    issuer.client_id = (await call(services.registry, "GET", "/v1/whoami", demo.issuer_key))["client_id"]
    issuer.unapproved = await demo.propose(title="Not yet approved")
    issuer.credentials = [{"achievement_id": approved}] * 8
    return issuer


async def world(services: Services, db) -> dict[str, Tenant]:
    registry = services.registry
    home = Demo(registry, "IE", agency_id="home", issuer_id="uni-home")
    away = Demo(registry, "FR", agency_id="away", issuer_id="uni-away")
    uni_home, uni_away = await university(services, home), await university(services, away)
    sub = await call(registry, "POST", "/v1/agencies", home.admin_key,
                     {"agency_id": "home-sub", "name": "Home Further Education", "jurisdiction": "IE"}, 201)
    tenants = {
        "home": Tenant("home", "agency", key=home.admin_key),
        "home-sub": Tenant("home-sub", "agency", sub["admin_client_id"], sub["admin_api_key"]),
        "away": Tenant("away", "agency", key=away.admin_key),
        "uni-home": uni_home, "uni-away": uni_away,
        "emp-home": await organisation(registry, home.admin_key, "emp-home", "employer"),
        "emp-away": await organisation(registry, away.admin_key, "emp-away", "employer"),
        "audit-home": await organisation(registry, home.admin_key, "audit-home", "auditor"),
    }
    for agency in ("home", "away"):
        tenants[agency].client_id = (await call(registry, "GET", "/v1/whoami", tenants[agency].key))["client_id"]
    await registry_caught_up(services.issuance, db)
    for issuer in (uni_home, uni_away):
        issuer.credentials = [await issued(services.issuance, issuer, n, spec["achievement_id"])
                              for n, spec in enumerate(issuer.credentials)]
    return tenants


async def issued(issuance: TestClient, issuer: Tenant, n: int, achievement_id: str) -> dict:
    response = await issuance.post("/v1/credentials", headers=bearer(issuer.key), json={
        "reference": f"M-{n}", "achievement_id": achievement_id, "learner": {"email": f"learner{n}@example.org"}})
    assert response.status == 201, await response.text()
    return await response.json()


# Who each column of the matrix is, and how every tenant relates to it.
CALLER_TENANT = {"platform": None, "agency_admin": "home", "auditor": "audit-home", "issuer": "uni-home",
                 "employer": "emp-home"}
SUBTREE = {"agency_admin": {"home-sub", "uni-home", "emp-home", "audit-home"},
           "auditor": {"home", "home-sub", "uni-home", "emp-home"}}


def relation(caller: str, tenant_id: str) -> str:
    if tenant_id == CALLER_TENANT[caller]:
        return "own"
    return "subtree" if tenant_id in SUBTREE.get(caller, ()) else "foreign"


def key_of(caller: str, tenants: dict[str, Tenant]) -> str:
    return PLATFORM if caller == "platform" else tenants[CALLER_TENANT[caller]].key


# An attempt prepares what it needs (with the platform key), then returns
# the one request whose answer and ledger effect the matrix judges.
Send = Callable[[str], Awaitable[ClientResponse]]
Attempt = Callable[[Services, Tenant], Awaitable[Send]]


async def create_client(s: Services, target: Tenant) -> Send:
    body = {"role": ROLE_OF_KIND[target.kind], "tenant_id": target.tenant_id, "name": "matrix"}
    return lambda key: s.registry.post("/v1/clients", headers=bearer(key), json=body)


async def read_client(s: Services, target: Tenant) -> Send:
    return lambda key: s.registry.get(f"/v1/clients/{target.client_id}", headers=bearer(key))


async def issue_key(s: Services, target: Tenant) -> Send:
    return lambda key: s.registry.post(f"/v1/clients/{target.client_id}/keys", headers=bearer(key))


async def revoke_key(s: Services, target: Tenant) -> Send:
    spare = await call(s.registry, "POST", f"/v1/clients/{target.client_id}/keys", PLATFORM, None, 201)
    path = f"/v1/clients/{target.client_id}/keys/{spare['key_id']}/revoke"
    return lambda key: s.registry.post(path, headers=bearer(key))


async def revoke_client(s: Services, target: Tenant) -> Send:
    spare = (await new_client(s.registry, target))["client"]["client_id"]
    return lambda key: s.registry.post(f"/v1/clients/{spare}/revoke", headers=bearer(key))


async def update_issuer(s: Services, target: Tenant) -> Send:
    change = {"homepage": f"https://{uuid.uuid4().hex[:8]}.example"}  # a real change every time
    return lambda key: s.registry.patch(f"/v1/issuers/{target.tenant_id}", headers=bearer(key), json=change)


async def add_issuer_key(s: Services, target: Tenant) -> Send:
    public_key = public_key_to_multibase(raw_public_key(Ed25519PrivateKey.generate()))
    body = {"custody": "issuer_held", "public_key_multibase": public_key}
    return lambda key: s.registry.post(f"/v1/issuers/{target.tenant_id}/keys", headers=bearer(key), json=body)


async def read_unapproved(s: Services, target: Tenant) -> Send:
    return lambda key: s.registry.get(f"/v1/achievements/{target.unapproved}", headers=bearer(key))


async def read_credential(s: Services, target: Tenant) -> Send:
    credential = target.credentials[0]["credential_id"]
    return lambda key: s.issuance.get(f"/v1/credentials/{credential}", headers=bearer(key))


async def suspend(s: Services, target: Tenant) -> Send:
    credential = target.credentials.pop()["credential_id"]  # a fresh one, so an allowed suspension happens
    return lambda key: s.revocation.post(f"/v1/credentials/{credential}/suspend", headers=bearer(key),
                                         json={"reason_code": "other", "reason": "matrix walk"})


async def status_history(s: Services, target: Tenant) -> Send:
    credential = target.credentials[0]["credential_id"]
    return lambda key: s.revocation.get(f"/v1/credentials/{credential}/status-history", headers=bearer(key))


# Each route of the matrix: how to try it, and the tenants to try it on.
ISSUERS = ("uni-home", "uni-away")
CLIENT_TENANTS = ("home", "home-sub", "away", "uni-home", "uni-away", "emp-home", "emp-away", "audit-home")
ATTEMPTS: dict[str, tuple[Attempt, tuple[str, ...]]] = {
    "POST /v1/clients": (create_client, CLIENT_TENANTS),
    "GET /v1/clients/{client_id}": (read_client, CLIENT_TENANTS),
    "POST /v1/clients/{client_id}/keys": (issue_key, CLIENT_TENANTS),
    "POST /v1/clients/{client_id}/keys/{key_id}/revoke": (revoke_key, CLIENT_TENANTS),
    "POST /v1/clients/{client_id}/revoke": (revoke_client, CLIENT_TENANTS),
    "PATCH /v1/issuers/{issuer_id}": (update_issuer, ISSUERS),
    "POST /v1/issuers/{issuer_id}/keys": (add_issuer_key, ISSUERS),
    "GET /v1/achievements/{achievement_id} (not approved)": (read_unapproved, ISSUERS),
    "GET /v1/credentials/{credential_id}": (read_credential, ISSUERS),
    "POST /v1/credentials/{id}/suspend": (suspend, ISSUERS),
    "GET /v1/credentials/{id}/status-history": (status_history, ISSUERS),
}


@contextlib.asynccontextmanager
async def all_services(settings):
    async with (
        serving(registry_app, settings) as registry,
        serving(issuance_app, settings) as issuance,
        revocation_service(settings) as revocation,
    ):
        yield Services(registry, issuance, revocation)


async def test_every_cell_of_the_matrix_holds_over_http(settings, db):
    async with all_services(settings) as services:
        tenants = await world(services, db)
        outcomes = [outcome async for outcome in walk(services, tenants, db)]
        wrong = [o for o in outcomes if not o.as_expected]
        assert not wrong, "\n".join(map(str, wrong))
        assert {o.allowed for o in outcomes} == {True, False}

        # The listing shows exactly the clients of the tenants the caller reaches.
        for caller in CALLERS:
            listed = await call(services.registry, "GET", "/v1/clients?limit=200", key_of(caller, tenants))
            assert len(listed["items"]) < 200  # one page holds them all
            seen = {c["tenant_id"] for c in listed["items"]} & set(CLIENT_TENANTS)
            expected = {t for t in CLIENT_TENANTS if permits("GET /v1/clients", caller, relation(caller, t))}
            assert seen == expected, caller


@dataclass(frozen=True)
class Outcome:
    route: str
    caller: str
    tenant: str
    allowed: bool
    status: int
    wrote: bool

    @property
    def as_expected(self) -> bool:
        if self.allowed:
            return 200 <= self.status < 300
        return self.status in (403, 404) and not self.wrote


async def walk(services: Services, tenants: dict[str, Tenant], db):
    for rules in MATRIX:
        if rules.route not in ATTEMPTS:
            continue  # the listing, checked on its own
        attempt, targets = ATTEMPTS[rules.route]
        for caller in CALLERS:
            for target_id in targets:
                send = await attempt(services, tenants[target_id])
                before = await ledger_head(db)
                response = await send(key_of(caller, tenants))
                await response.read()
                yield Outcome(rules.route, caller, target_id, permits(rules.route, caller, relation(caller, target_id)),
                              response.status, await ledger_head(db) != before)


def test_the_document_is_the_matrix():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ") and "`" in line]
    documented = [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]
    assert documented == [[m.service, m.route, m.tenant, *(m.rule(c) for c in CALLERS)] for m in MATRIX]
