"""Hostile bytes at every HTTP entry point of the four services: each gets a
400/413/415/422 problem naming what is wrong, and the ledger (and every
table a refused request could have written) is unchanged.

Headers and paths that an HTTP client library would refuse to send are
written on a raw socket, as an attacker would.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

import msgspec
import pytest

from services.issuance.app import create_app as issuance_app
from services.registry.app import create_app as registry_app
from services.revocation.app import create_app as revocation_app
from services.verification.app import create_app as verification_app
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support.http import bearer, serving
from tests.support.issuance import item, university

NESTED = b'{"items": [' + b"[" * 1000 + b"]" * 1000 + b"]}"
HUGE = "9" * 30
COUNTS = {
    "ledger": "SELECT count(*) FROM ledger.events",
    "credentials": "SELECT count(*) FROM issuance.credentials",
    "jobs": "SELECT count(*) FROM verification.jobs",
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict:
        assert self.headers.get("content-type", "").startswith("application/problem+json"), self
        return msgspec.json.decode(self.body)


async def raw(client, method: str, target: bytes, headers: dict[bytes, bytes] | None = None,
              body: bytes = b"") -> Answer:
    """One request written byte for byte, as no client library would send it."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    head = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: test", b"Connection: close",
            b"Content-Length: %d" % len(body)]
    head += [name + b": " + value for name, value in (headers or {}).items()]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    fields = dict(line.decode("latin-1").split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return Answer(int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, payload)


def json_headers(key: str | None, content_type: bytes = b"application/json") -> dict[bytes, bytes]:
    headers = {b"Content-Type": content_type}
    if key:
        headers[b"Authorization"] = b"Bearer " + key.encode()
    return headers


async def counts(db) -> dict[str, int]:
    return {name: await db.fetchval(sql) for name, sql in COUNTS.items()}


async def refused(client, db, case: tuple, say: str = "") -> None:
    """Send one hostile request; it is refused with a problem and writes nothing."""
    expected, method, target, headers, body, names = case
    before = await counts(db)
    answer = await raw(client, method, target, headers, body)
    assert answer.status == expected, (target, answer)
    problem = answer.problem()
    assert problem["status"] == expected
    assert names.lower() in msgspec.json.encode(problem).decode().lower(), (target, problem)
    assert "Traceback" not in answer.body.decode("utf-8", "replace")
    assert await counts(db) == before, (target, say)


def agency_body(**fields) -> bytes:
    return msgspec.json.encode({"name": "Hostile", "jurisdiction": "IE", **fields})


BAD_AUTH = {b"Authorization": b"Bearer \xff\xfe\x80"}


async def test_registry_refuses_hostile_input_and_changes_nothing(settings, db):
    admin = json_headers(BOOTSTRAP_ADMIN_KEY)
    cursor = base64.urlsafe_b64encode(f"p{HUGE}".encode()).decode().rstrip("=")
    cases = [
        (400, "GET", b"/v1/whoami", BAD_AUTH, b"", "header Authorization"),
        (400, "POST", b"/v1/agencies", admin, b'{"name": "\xff", "jurisdiction": "IE"}', "UTF-8"),
        (415, "POST", b"/v1/agencies", {**admin, b"Content-Type": b"application/json; charset=latin-1"},
         agency_body(), "charset"),
        (400, "GET", b"/v1/achievements?issuer_id=%00", {}, b"", "query parameter 'issuer_id'"),
        (400, "GET", b"/v1/achievements?issuer_id=%ff", {}, b"", "UTF-8"),
        (400, "GET", b"/v1/achievements/a%00b", {}, b"", "path"),
        (400, "GET", b"/v1/issuers?cursor=" + cursor.encode(), {}, b"", "cursor"),
        (400, "GET", b"/v1/issuers?limit=" + HUGE.encode(), {}, b"", "limit"),
        (422, "POST", b"/v1/agencies", admin, agency_body(name="Evil\x00Corp"), "NUL"),
        (422, "POST", b"/v1/agencies", admin, agency_body(scope={"eqf_levels": [9, 20_000_000]}),
         "scope.eqf_levels[0]"),
        (422, "POST", b"/v1/agencies", admin, agency_body(scope={"eqf_levels": [1, 2, 3, 4, 5, 6, 7, 8, 8]}),
         "scope.eqf_levels"),
        (400, "POST", b"/v1/agencies", admin, b'{"scope":' + b"[" * 1000 + b"]" * 1000 + b"}", "deeper"),
    ]
    async with serving(registry_app, settings) as client:
        for case in cases:
            await refused(client, db, case)
        # Escaped once more, the same bytes are ordinary text ("%00"), not a NUL.
        assert (await raw(client, "GET", b"/v1/achievements?issuer_id=%2500")).status == 200
        not_allowed = await raw(client, "DELETE", b"/v1/agencies")
        assert not_allowed.status == 405 and not_allowed.problem()["status"] == 405
        assert set(not_allowed.headers["allow"].split(", ")) >= {"GET", "POST"}


async def test_issuance_refuses_hostile_input_and_changes_nothing(settings, db):
    _, issuer, achievement_id = await university(db, settings)
    key = json_headers(issuer.api_key)

    def credential(**fields) -> bytes:
        return msgspec.json.encode(item("ref-1", achievement_id, **fields))

    cases = [
        (400, "POST", b"/v1/credentials", {**key, **BAD_AUTH}, credential(), "header Authorization"),
        (400, "POST", b"/v1/stacks", json_headers(None), b'{"pathway_id": "\xc3"}', "UTF-8"),
        (400, "POST", b"/v1/credentials/signed", key,
         b'{"reference": "r", "credential": ' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}", "deeper"),
        (422, "POST", b"/v1/credentials", key, credential(grade="A\x00"), "NUL"),
        (422, "POST", b"/v1/credentials", key,
         credential(evidence=[{"narrative": "x\x00y"}]), "NUL"),
        (422, "POST", b"/v1/credentials", key, credential(email="ada\x00@example.org"), "NUL"),
        (415, "POST", b"/v1/credentials", {**key, b"Content-Type": b"application/json;charset=ISO-8859-1"},
         credential(), "charset"),
        (400, "GET", b"/v1/credentials/%00", {}, b"", "path"),
        (400, "GET", b"/v1/credentials/x?token=%00", {}, b"", "query parameter 'token'"),
        (422, "POST", b"/v1/stacks", key,
         msgspec.json.encode({"pathway_id": "p", "component_ids": ["c"] * 101}), "component_ids"),
    ]
    async with serving(issuance_app, settings) as client:
        for case in cases:
            await refused(client, db, case)


async def test_revocation_refuses_hostile_input_and_changes_nothing(settings, db):
    _, issuer, _ = await university(db, settings)
    key = json_headers(issuer.api_key)
    target = b"/v1/credentials/urn:uuid:5f0c8a52-3c2e-4a55-9d7e-0d6c1b0a9f11/revoke"
    cases = [
        (400, "POST", target, {**key, **BAD_AUTH}, b"{}", "header Authorization"),
        (422, "POST", target, key, b'{"reason_code": "fraud", "reason": "gone\\u0000"}', "NUL"),
        (400, "POST", target, key, b'{"reason_code": "fraud", "reason": "\xff\xfe"}', "UTF-8"),
        (400, "POST", b"/v1/revocations/batch", key, NESTED, "deeper"),
        (400, "GET", b"/status-lists/x/entries/" + HUGE.encode(), {}, b"", "path parameter index"),
        (400, "GET", b"/status-lists/x%00y", {}, b"", "path"),
    ]
    async with serving(revocation_app, settings) as client:
        for case in cases:
            await refused(client, db, case)


async def test_verification_refuses_hostile_input_and_changes_nothing(settings, db):
    world, _, _ = await university(db, settings)
    employer = json_headers(await world.client("employer", "acme"))
    cases = [
        (400, "POST", b"/v1/verifications", {**employer, **BAD_AUTH}, b'{"items": []}', "header Authorization"),
        (400, "POST", b"/v1/verifications", employer, NESTED, "deeper"),
        (400, "POST", b"/v1/verifications", employer, b'{"items": [{"id": "\xff"}]}', "UTF-8"),
        (422, "POST", b"/v1/verifications", employer, b'{"items": [{"id": "a\\u0000"}]}', "NUL"),
        (400, "GET", b"/v1/audit/entries/" + HUGE.encode(), {}, b"", "path parameter position"),
        (400, "GET", b"/v1/audit/checkpoints/" + HUGE.encode(), {}, b"", "path parameter size"),
        (400, "GET", b"/v1/audit/proofs/tlog/0", {}, b"", "path parameter position"),
        (400, "GET", b"/v1/audit/proofs/tlog/" + HUGE.encode(), {}, b"", "path parameter position"),
        (400, "GET", b"/v1/audit/proofs/inclusion?position=%00", {}, b"", "query parameter"),
        (400, "GET", b"/v1/audit/proofs/consistency?first=-1", {}, b"", "query parameter first"),
    ]
    async with serving(verification_app, settings) as client:
        for case in cases:
            await refused(client, db, case)


@pytest.mark.parametrize("content_type", [b"application/x-ndjson", b"text/csv"])
async def test_a_job_over_the_bulk_limit_is_413_at_the_service_itself(settings, db, content_type):
    """Without the gateway in front, the service still caps a streamed job."""
    world, _, _ = await university(db, settings)
    employer = json_headers(await world.client("employer", "acme"), content_type)
    small = msgspec.structs.replace(settings, max_bulk_body_bytes=256 * 1024)
    line = b'{"id": "urn:uuid:5f0c8a52-3c2e-4a55-9d7e-0d6c1b0a9f11"}\n'
    body = line * (300 * 1024 // len(line))
    async with serving(verification_app, small) as client:
        await refused(client, db, (413, "POST", b"/v1/verification-jobs", employer, body, "payload-too-large"))
        # Without Content-Length (chunked), the cap holds while streaming.
        before = await counts(db)
        response = await client.post("/v1/verification-jobs", data=_chunks(body), headers={
            k.decode(): v.decode() for k, v in employer.items()})
        assert response.status == 413, await response.text()
        assert await counts(db) == before


async def _chunks(body: bytes):
    for start in range(0, len(body), 64 * 1024):
        yield body[start:start + 64 * 1024]


async def test_an_achievement_approved_a_moment_ago_is_issued_not_refused_for_lag(settings, db):
    """No relay runs, so the service learns of new ledger events only when it
    polls the ledger (about once a second): a batch for an achievement the
    registry approved just now reaches a registry view that does not know it
    yet. The refusal must not leave the service: it catches up and decides
    again."""
    world, issuer, _ = await university(db, settings)
    async with serving(issuance_app, settings) as client:
        for round_ in range(3):
            fresh = await world.achievement(issuer)
            response = await client.post("/v1/credentials/batch", headers=bearer(issuer.api_key), json={
                "items": [item(f"lag-{round_}-{n}", fresh, email=f"l{round_}-{n}@example.org") for n in range(5)]})
            assert response.status == 200, await response.text()
            body = await response.json()
            assert body["issued"] == 5 and body["rejected"] == 0, body


async def test_while_postgres_is_unreachable_business_routes_are_503_not_500(settings, db, postgres_admin_url):
    import asyncpg

    _, issuer, achievement_id = await university(db, settings)
    name = settings.database_url.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        async with serving(issuance_app, settings) as client:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            for attempt in range(3):
                response = await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                             json=item(f"outage-{attempt}", achievement_id))
                assert response.status == 503, await response.text()
                assert response.headers["Retry-After"]
                assert (await response.json(content_type=None))["type"].endswith("/service-unavailable")
            assert (await client.get("/healthz")).status == 200
            assert (await client.get("/readyz")).status == 503
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert await db.fetchval("SELECT count(*) FROM issuance.credentials") == 0


async def test_openapi_states_the_request_limits(settings):
    async with serving(registry_app, settings) as client:
        schemas = (await (await client.get("/openapi.json")).json())["components"]["schemas"]
    levels = schemas["AccreditationScope"]["properties"]["eqf_levels"]
    assert levels["maxItems"] == 8 and levels["items"] == {
        "type": "integer", "minimum": 1, "maximum": 8, "description": "EQF level, 1 to 8"}
    assert schemas["PathwayRule"]["properties"]["choices"]["maxItems"] == 20
    async with serving(issuance_app, settings) as client:
        schemas = (await (await client.get("/openapi.json")).json())["components"]["schemas"]
    assert schemas["BatchRequest"]["properties"]["items"]["maxItems"] == 10_000
