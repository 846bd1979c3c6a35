"""Every error is an RFC 9457 problem with a request id, and changes nothing."""

from __future__ import annotations

import pytest

from services.registry.app import create_app as registry_app
from services.verification.app import create_app as verification_app
from shared.http.problem import PROBLEM_CONTENT_TYPE
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support.http import bearer, serving

AUDIT = "/v1/audit/verify"


async def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM_CONTENT_TYPE
    body = await response.json(content_type=None)
    assert body["type"].endswith("/" + slug)
    assert body["status"] == status
    assert body["title"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert "Traceback" not in await response.text()
    return body


async def test_missing_and_unknown_keys_are_401(settings):
    async with serving(registry_app, settings) as client:
        await assert_problem(await client.get("/v1/whoami"), 401, "unauthorized")
        await assert_problem(await client.get("/v1/whoami", headers=bearer("nope")), 401, "unauthorized")
        await assert_problem(
            await client.get("/v1/whoami", headers={"Authorization": "Basic abc"}), 401, "unauthorized"
        )
        ok = await client.get("/v1/whoami", headers=bearer(BOOTSTRAP_ADMIN_KEY))
        assert ok.status == 200
        assert (await ok.json())["role"] == "agency_admin"


async def test_unknown_route_and_method(settings):
    async with serving(registry_app, settings) as client:
        await assert_problem(await client.get("/v1/no-such-thing"), 404, "not-found")
        await assert_problem(await client.delete("/healthz"), 405, "method-not-allowed")


async def test_request_id_is_passed_through(settings):
    async with serving(registry_app, settings) as client:
        response = await client.get("/v1/whoami", headers={"X-Request-Id": "abc-123"})
        body = await assert_problem(response, 401, "unauthorized")
        assert body["request_id"] == "abc-123"
        # An unsafe incoming id is replaced, never echoed into logs and headers.
        response = await client.get("/v1/whoami", headers={"X-Request-Id": "bad id <script>"})
        assert response.headers["X-Request-Id"] != "bad id <script>"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "slug"),
    [
        (b"{not json", "application/json", 400, "bad-request"),
        (b"", "application/json", 400, "bad-request"),
        (b'{"from_position": "one"}', "application/json", 422, "validation-failed"),
        (b'{"from_position": 1, "surprise": true}', "application/json", 422, "validation-failed"),
        (b'[1, 2]', "application/json", 422, "validation-failed"),
        (b'{"from_position": 1}', "text/plain", 415, "unsupported-media-type"),
        (b'{"from_position": 1}' + b" " * (70 * 1024), "application/json", 413, "payload-too-large"),
    ],
)
async def test_bad_bodies(settings, body, content_type, status, slug):
    async with serving(verification_app, settings) as client:
        response = await client.post(
            AUDIT, data=body, headers={**bearer(BOOTSTRAP_ADMIN_KEY), "Content-Type": content_type}
        )
        await assert_problem(response, status, slug)


async def test_wrong_role_is_403(settings, db):
    await db.execute(
        "INSERT INTO registry.api_clients (client_id, tenant_id, role, name) VALUES ('emp', 'acme', 'employer', 'Acme')"
    )
    from shared.auth import hash_api_key

    await db.execute(
        "INSERT INTO registry.api_keys (key_hash, key_id, client_id) VALUES ($1, 'k1', 'emp')",
        hash_api_key("employer-key"),
    )
    async with serving(verification_app, settings) as client:
        who = await client.get("/v1/whoami", headers=bearer("employer-key"))
        assert (await who.json()) == {"client_id": "emp", "role": "employer", "tenant_id": "acme"}
        response = await client.post(AUDIT, json={}, headers=bearer("employer-key"))
        await assert_problem(response, 403, "forbidden")
