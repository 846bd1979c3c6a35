"""The API gateway: the real nginx in front of the four real services.

Each service's own /metrics (read directly, not through the gateway) tells
which service handled a request, and proves that a rejected one never
arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import msgspec
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from credledger.embedded import free_port
from credledger.gateway import EmbeddedGateway, Limits, nginx_available
from shared.auth import hash_api_key
from shared.http.problem import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from shared.settings import SERVICE_NAMES, Settings, load_settings
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(
    not nginx_available(), reason="nginx is not installed (apt-get install nginx; .ci/run installs it)"
)

ADMIN = {"Authorization": f"Bearer {BOOTSTRAP_ADMIN_KEY}"}
Route = tuple[str, str, str]  # method, path, the service that must answer
# Need a key: without a valid one the gateway answers.
PROTECTED: list[Route] = [
    ("GET", "/v1/whoami", "registry"),
    ("GET", "/v1/clients", "registry"),
    ("POST", "/v1/agencies", "registry"),
    ("PATCH", "/v1/issuers/i1", "registry"),
    ("POST", "/v1/credentials", "issuance"),
    ("POST", "/v1/credentials/batch", "issuance"),
    ("POST", "/v1/learners/hash", "issuance"),
    ("GET", "/v1/learners/l1/pathways", "issuance"),
    ("POST", "/v1/credentials/c1/revoke", "revocation"),
    ("POST", "/v1/revocations/batch", "revocation"),
    ("POST", "/v1/verifications", "verification"),
    ("POST", "/v1/verification-jobs", "verification"),
    ("GET", "/v1/verification-jobs/j1", "verification"),
    ("POST", "/v1/audit/verify", "verification"),
]
# Reach their service without a key (which decides what, if anything, to show).
OPEN: list[Route] = [
    ("GET", "/v1/agencies", "registry"),
    ("GET", "/v1/achievements/a1/ob3", "registry"),
    ("GET", "/issuers/i1/did.json", "registry"),
    ("GET", "/contexts/credledger/v1.jsonld", "registry"),
    ("GET", "/v1/credentials/c1?token=t", "issuance"),
    ("POST", "/v1/stacks", "issuance"),
    ("GET", "/v1/credentials/c1/status-history?token=t", "revocation"),
    ("GET", "/status-lists/1", "revocation"),
    ("GET", "/v1/credentials/c1/verification", "verification"),
    ("GET", "/verify/c1", "verification"),
    ("GET", "/employer/sign-in", "employer"),
    ("GET", "/v1/audit/log-keys", "verification"),
]


@dataclass
class Stack:
    settings: Settings
    gateway: EmbeddedGateway
    http: aiohttp.ClientSession

    async def handled(self) -> Counter[tuple[str, str]]:
        """Requests counted by each service, by (service, route), from its
        own /metrics; the scrapes themselves are left out."""
        counts: Counter[tuple[str, str]] = Counter()
        for service in SERVICE_NAMES:
            async with self.http.get(f"{self.settings.url_of(service)}/metrics") as response:
                text = await response.text()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "http_requests_total" and sample.labels["route"] != "/metrics":
                        counts[(service, sample.labels["route"])] += int(sample.value)
        return counts

    async def call(self, method: str, path: str, **kwargs) -> tuple[aiohttp.ClientResponse, bytes]:
        async with self.http.request(method, self.gateway.url + path, **kwargs) as response:
            return response, await response.read()

    async def arrivals(self, method: str, path: str, **kwargs) -> tuple[aiohttp.ClientResponse, bytes, set]:
        """The response, and the (service, route) pairs it added to the metrics."""
        before = await self.handled()
        response, body = await self.call(method, path, **kwargs)
        return response, body, set((await self.handled() - before).keys())


@contextlib.asynccontextmanager
async def services_on_free_ports(settings: Settings, gateway_port: int | None = None) -> AsyncIterator[Settings]:
    """The four real applications on real sockets, in this process; the
    gateway's port is `gateway_port` when the public origin already names it."""
    settings = msgspec.structs.replace(
        settings, gateway_port=gateway_port or free_port(), **{f"{name}_port": free_port() for name in SERVICE_NAMES}
    )
    runners: list[web.AppRunner] = []
    try:
        for name in SERVICE_NAMES:
            app = importlib.import_module(f"services.{name}.app").create_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", settings.port_of(name)).start()
        yield settings
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@contextlib.asynccontextmanager
async def running(gateway: EmbeddedGateway) -> AsyncIterator[aiohttp.ClientSession]:
    await asyncio.to_thread(gateway.start)
    try:
        async with aiohttp.ClientSession() as http:
            yield http
    finally:
        await asyncio.to_thread(gateway.stop)


@pytest.fixture
def gateway_limits() -> Limits:
    return Limits()


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path, gateway_limits: Limits) -> AsyncIterator[Stack]:
    async with services_on_free_ports(settings) as live:
        gateway = EmbeddedGateway(live, tmp_path / "gateway", gateway_limits)
        async with running(gateway) as http:
            yield Stack(live, gateway, http)


def assert_gateway_problem(response: aiohttp.ClientResponse, body: bytes, status: int, slug: str) -> dict:
    assert response.status == status, body
    assert response.content_type == PROBLEM_CONTENT_TYPE
    problem = msgspec.json.decode(body)
    assert problem["type"] == PROBLEM_TYPE_BASE + slug
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert problem["request_id"] == response.headers["X-Request-Id"]
    return problem


async def add_employer_key(db, key: str) -> None:
    await db.execute(
        "INSERT INTO registry.api_clients (client_id, tenant_id, role, name) VALUES ('emp', 'acme', 'employer', 'Acme')"
    )
    await db.execute(
        "INSERT INTO registry.api_keys (key_hash, key_id, client_id) VALUES ($1, 'k1', 'emp')", hash_api_key(key)
    )


async def test_each_path_reaches_its_service_and_no_other(stack: Stack):
    for (method, path, service), headers in [(route, ADMIN) for route in PROTECTED] + [(route, {}) for route in OPEN]:
        response, body, arrived = await stack.arrivals(method, path, headers=headers, json={})
        # Only the registry's key check besides the service itself.
        assert {s for s, route in arrived if route != "/v1/auth/check"} == {service}, (path, arrived, body)
    response, body, arrived = await stack.arrivals("GET", "/v1/whoami", headers=ADMIN)
    assert msgspec.json.decode(body)["role"] == "agency_admin"


async def test_unknown_and_internal_paths_are_gateway_404s(stack: Stack):
    for path in ("/v1/no-such-thing", "/metrics", "/_auth", "/v1/auth/check"):
        response, body, arrived = await stack.arrivals("GET", path, headers=ADMIN)
        assert_gateway_problem(response, body, 404, "not-found")
        assert not arrived, path


async def test_missing_or_unknown_key_never_reaches_a_service(stack: Stack):
    bad_keys = ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic abc"})
    # On open routes a key is optional, but one that is sent is still checked.
    cases = [(m, p, h) for m, p, _ in PROTECTED for h in bad_keys] + [
        (m, p, bad_keys[1]) for m, p in (("GET", "/v1/agencies"), ("GET", "/v1/credentials/c1"), ("POST", "/v1/stacks"))]
    for method, path, headers in cases:
        response, body, arrived = await stack.arrivals(method, path, headers=headers, json={})
        assert_gateway_problem(response, body, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert arrived <= {("registry", "/v1/auth/check")}, (path, arrived)



async def test_the_access_log_leaves_out_learner_keys_and_holder_tokens(stack: Stack):
    learner_key = "lk$0123abcd$" + "5e" * 32
    await stack.call("GET", f"/v1/learners/{learner_key}/pathways", headers=ADMIN)
    await stack.call("GET", "/v1/credentials/c1?token=holder-secret-token")
    log = stack.gateway.prefix / "logs" / "access.log"
    lines = (await eventually(lambda: _logged(log, 2))).splitlines()
    assert any('"/v1/learners/{learner_key}/pathways"' in line for line in lines)
    assert not any("5e5e5e" in line or "holder-secret-token" in line for line in lines)


async def _logged(log: Path, count: int) -> str | None:
    text = log.read_text() if log.exists() else ""
    return text if len(text.splitlines()) >= count else None

async def test_revoked_key_is_rejected_at_the_edge_after_the_cache_time(stack: Stack, db):
    await add_employer_key(db, "employer-key")
    employer = {"Authorization": "Bearer employer-key"}
    before = await stack.handled()
    for _ in range(3):
        response, body = await stack.call("GET", "/v1/whoami", headers=employer)
        assert response.status == 200 and msgspec.json.decode(body)["client_id"] == "emp"
    checks = (await stack.handled() - before)[("registry", "/v1/auth/check")]
    assert checks == 1, "the gateway should have cached the first verdict"

    await db.execute("UPDATE registry.api_keys SET revoked_at = now() WHERE key_id = 'k1'")
    # Until nginx's cached verdict (5 s) expires the request goes through, and
    # the registry's own key cache (5 s) may still accept it or already not.
    deadline = time.monotonic() + 20
    while True:
        response, body, arrived = await stack.arrivals("GET", "/v1/whoami", headers=employer)
        if ("registry", "/v1/whoami") not in arrived:
            break
        assert response.status in (200, 401) and time.monotonic() < deadline, "the revoked key still passes"
        await asyncio.sleep(0.5)
    for _ in range(2):  # rejected at the edge, and it stays so
        assert_gateway_problem(response, body, 401, "unauthorized")
        assert arrived <= {("registry", "/v1/auth/check")}
        response, body, arrived = await stack.arrivals("GET", "/v1/whoami", headers=employer)


TIGHT = Limits(client_rate="1r/m", client_burst=2, bulk_rate="1r/m", bulk_burst=3,
               public_rate="1r/m", public_burst=2)


@pytest.mark.parametrize("gateway_limits", [TIGHT])
async def test_rate_limits_are_429_problems_per_client(stack: Stack, db):
    # Allowed at once: 1 + burst; bulk endpoints have their own bucket.
    for path, headers, allowed in (("/v1/whoami", ADMIN, 3), ("/v1/verifications", ADMIN, 4),
                                   ("/v1/audit/log-keys", {}, 3)):
        statuses = [(await stack.call("GET", path, headers=headers))[0].status for _ in range(allowed)]
        assert 429 not in statuses, (path, statuses)
        response, body, arrived = await stack.arrivals("GET", path, headers=headers)
        assert_gateway_problem(response, body, 429, "rate-limited")
        assert response.headers["Retry-After"] == "1"
        assert arrived <= {("registry", "/v1/auth/check")}
    # Keyless reads of the catalog share the address's budget, now spent.
    response, body = await stack.call("GET", "/v1/agencies")
    assert_gateway_problem(response, body, 429, "rate-limited")
    # Keyed requests count against their client only: another client from
    # the same (exhausted) address still gets through.
    await add_employer_key(db, "employer-key")
    response, body = await stack.call("GET", "/v1/whoami", headers={"Authorization": "Bearer employer-key"})
    assert response.status == 200, body


async def test_bulk_body_passes_and_small_route_body_is_413(stack: Stack):
    items = [{"credential_id": f"urn:uuid:{i:032x}", "presented": "x" * 100} for i in range(10_000)]
    bulk = msgspec.json.encode({"items": items})
    assert len(bulk) > 1_400_000
    response, body, arrived = await stack.arrivals(
        "POST", "/v1/verifications", data=bulk, headers={**ADMIN, "Content-Type": "application/json"})
    # Whatever the service makes of these items, the body reached it.
    assert any(service == "verification" for service, _ in arrived), (response.status, body)

    response, body, arrived = await stack.arrivals(
        "POST", "/v1/whoami", data=b"{" + b" " * 2_000_000 + b"}",
        headers={**ADMIN, "Content-Type": "application/json"})
    assert_gateway_problem(response, body, 413, "payload-too-large")
    assert not arrived


async def test_request_id_is_passed_through_and_made_up_when_missing(stack: Stack):
    response, body = await stack.call("GET", "/v1/credentials/c1", headers={**ADMIN, "X-Request-Id": "gw-req-1"})
    assert response.headers["X-Request-Id"] == "gw-req-1"
    assert response.headers.getall("X-Request-Id") == ["gw-req-1"]
    assert msgspec.json.decode(body)["request_id"] == "gw-req-1"  # the issuance service's own problem
    response, body = await stack.call("GET", "/v1/credentials/c1", headers=ADMIN)
    made_up = response.headers["X-Request-Id"]
    assert len(made_up) == 32 and msgspec.json.decode(body)["request_id"] == made_up
    response, body = await stack.call("GET", "/nowhere", headers={"X-Request-Id": 'bad "id"'})
    problem = assert_gateway_problem(response, body, 404, "not-found")
    assert problem["request_id"] != 'bad "id"'


async def test_services_down_are_gateway_problems(tmp_path: Path):
    # Nothing listens on the services' ports.
    settings = load_settings(environ={}, gateway_port=free_port(),
                             **{f"{name}_port": free_port() for name in SERVICE_NAMES})
    gateway = EmbeddedGateway(settings, tmp_path / "gateway")
    async with running(gateway) as http:
        async with http.get(gateway.url + "/v1/audit/log-keys") as response:
            assert_gateway_problem(response, await response.read(), 502, "bad-gateway")
        # The key cannot be checked: refused, never let through.
        async with http.get(gateway.url + "/v1/whoami", headers=ADMIN) as response:
            assert_gateway_problem(response, await response.read(), 500, "internal-error")


def self_signed(folder: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(folder / "tls.crt"), str(folder / "tls.key")


async def test_tls_variant_serves_https_and_redirects_http(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    settings = load_settings(environ={}, gateway_port=free_port())
    gateway = EmbeddedGateway(settings, tmp_path / "gateway", tls_cert=cert, tls_key=key, tls_port=free_port())
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    async with running(gateway) as http:
        async with http.get(f"https://127.0.0.1:{gateway.tls_port}/healthz", ssl=insecure) as response:
            assert response.status == 200 and "max-age" in response.headers["Strict-Transport-Security"]
        async with http.get(gateway.url + "/v1/whoami", allow_redirects=False) as response:
            assert response.status == 308
            assert response.headers["Location"].endswith(f":{gateway.tls_port}/v1/whoami")


GUARDED = Limits(auth_lookup_rate="1r/m", auth_lookup_burst=5)


@pytest.mark.parametrize("gateway_limits", [GUARDED])
async def test_guessing_keys_is_429_after_a_few_lookups_per_address(stack: Stack):
    """Random keys are never cached, so each would cost a registry lookup:
    past the address's budget the gateway answers 429 without asking."""
    before = await stack.handled()
    statuses = [(await stack.call("GET", "/v1/whoami", headers={"Authorization": f"Bearer guess-{n}"}))[0].status
                for n in range(40)]
    assert statuses[:6] == [401] * 6, statuses
    assert set(statuses[6:]) == {429}, statuses
    response, body, arrived = await stack.arrivals("GET", "/v1/whoami", headers={"Authorization": "Bearer guess-x"})
    problem = assert_gateway_problem(response, body, 429, "rate-limited")
    assert "API keys" in problem["detail"] and response.headers["Retry-After"]
    assert not arrived
    lookups = (await stack.handled() - before)[("registry", "/v1/auth/check")]
    assert lookups == 6, lookups
