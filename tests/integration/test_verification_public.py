"""The public side (no key): one credential's verdict, the badge page, the
OpenAPI document; and restarting from a snapshot of the read model."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re

import pytest

from services.verification.app import create_app
from services.verification.projection import PROJECTION_NAME, ReadModelOptions
from shared.events import credentials as cev
from shared.service import RUNNERS_KEY
from tests.support.credentials_for_verification import (
    build_scene,
    change_status,
    eventually,
    issue,
    serving_ready,
)
from tests.support.http import bearer

app_factory = functools.partial(create_app, options=ReadModelOptions(idle_check_interval=0.2))


@pytest.fixture
async def scene(db, settings):
    return await build_scene(db, settings, title="Statistics <for> \"Everyone\" & more",
                             learning_outcomes=["Explain <script>alert(1)</script> p-values"])


async def test_public_verdict_needs_no_key(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings) as client:
        body = await (await client.get(f"/v1/credentials/{issued.credential_id}/verification")).json()
        assert body["verdict"] == "valid" and body["id"] == issued.credential_id
        assert body["summary"]["title"] == "Statistics <for> \"Everyone\" & more"
        unknown = await (await client.get(
            "/v1/credentials/urn:uuid:8f2c2a1e-0000-4000-8000-000000000000/verification")).json()
        assert unknown["verdict"] == "invalid"
        malformed = await client.get("/v1/credentials/urn:uuid:nope/verification")
        assert malformed.status == 400 and malformed.content_type == "application/problem+json"
        assert "not a credential id" in (await malformed.json())["detail"]


async def test_badge_page_is_escaped_mobile_friendly_and_shows_status(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings) as client:
        response = await client.get(f"/verify/{issued.credential_id}")
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
        assert '<meta name="viewport"' in page and "default-src 'self'" in response.headers["Content-Security-Policy"]
        # Scripts: the JSON-LD data block (never executed) and same-origin files only.
        scripts = re.findall(r"<script[^>]*>", page)
        assert scripts and all('type="application/ld+json"' in s or re.search(r'src="/verify/static/', s)
                               for s in scripts), scripts
        json_ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
        assert json_ld["name"] == "Statistics <for> \"Everyone\" & more" and "</script>" not in json_ld["name"]
        assert 'property="og:title" content="Statistics &lt;for&gt;' in page and 'name="twitter:card"' in page
        assert "Statistics &lt;for&gt; &#34;Everyone&#34; &amp; more" in page
        assert "Explain &lt;script&gt;alert(1)&lt;/script&gt; p-values" in page
        assert "EQF level 6" in page and "5 ECTS" in page and "data analysis" in page and "2025-06-01" in page
        assert "University uni-1" in page and "Valid:" in page

        await change_status(scene.ledger, scene.issuer, issued.credential_id, cev.CredentialRevoked,
                            reason_code="fraud", reason="copied <b>coursework</b>")
        async def revoked_page():
            text = await (await client.get(f"/verify/{issued.credential_id}")).text()
            return text if "Not valid" in text else None

        page = await eventually(revoked_page)
        assert f"revoked by the issuer on {dt.datetime.now(dt.UTC):%Y-%m-%d}; reason: fraud" in page
        assert "coursework" not in page  # the free text is for the issuer, its agencies and the holder
        public = await (await client.get(f"/v1/credentials/{issued.credential_id}/verification")).text()
        assert "fraud" in public and "coursework" not in public

        missing = await client.get("/verify/urn:uuid:<img src=x>")
        assert missing.status == 404 and missing.content_type == "text/html"
        assert "&lt;img src=x&gt;" in await missing.text()


async def test_openapi_documents_the_verification_api(settings):
    async with serving_ready(app_factory, settings) as client:
        spec = await (await client.get("/openapi.json")).json()
        post = spec["paths"]["/v1/verifications"]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("VerificationRequest")
        assert "VerificationItem" in spec["components"]["schemas"]
        for path in ("/v1/verification-jobs", "/v1/verification-jobs/{job_id}", "/verify/{credential_id}",
                     "/v1/credentials/{credential_id}/verification", "/v1/audit/checkpoint"):
            assert path in spec["paths"]


async def test_restart_loads_the_snapshot_then_catches_up(settings, scene, db, caplog):
    before = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings):
        pass  # a clean shutdown writes a snapshot
    snapshot = await db.fetchrow("SELECT position, last_hash, credentials FROM verification.snapshots")
    assert snapshot["position"] == await scene.ledger.head_position() and snapshot["credentials"] == 1
    assert snapshot["last_hash"] == await scene.ledger.hash_at(snapshot["position"])
    after = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    await change_status(scene.ledger, scene.issuer, before.credential_id, cev.CredentialSuspended)
    caplog.set_level(logging.INFO, logger="services.verification.snapshot")
    async with serving_ready(app_factory, settings) as client:
        assert any(r.message == "snapshot loaded" and r.position == snapshot["position"] for r in caplog.records)
        body = await (await client.post("/v1/verifications", json={"items": [
            {"id": before.credential_id}, {"id": after.credential_id}]}, headers=bearer(scene.employer_key))).json()
        assert [r["verdict"] for r in body["results"]] == ["invalid", "valid"]
        assert body["as_of_position"] == await scene.ledger.head_position()
    assert await db.fetchval("SELECT count(*) FROM verification.snapshots") == 1


async def test_log_tree_restarts_from_its_saved_leaves(settings, scene, db):
    await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings) as client:
        first = await (await client.get("/v1/audit/proofs/consistency", params={"first": "1"})).json()
    size, last_hash = await db.fetchrow("SELECT size, last_hash FROM verification.log_tree_snapshots")
    assert size == await scene.ledger.head_position() and last_hash == await scene.ledger.hash_at(size)
    await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings) as client:
        proof = await (await client.get("/v1/audit/proofs/consistency",
                                        params={"first": str(size), "second": str(size + 1)})).json()
        assert proof["first_root"] == first["second_root"]
        entry = await (await client.get(f"/v1/audit/entries/{size + 1}")).json()
        inclusion = await (await client.get("/v1/audit/proofs/inclusion", params={"position": str(size + 1)})).json()
        assert inclusion["leaf_hash"] == entry["leaf_hash"] and inclusion["root_hash"] == proof["second_root"]


async def test_a_snapshot_without_a_hash_takes_it_from_the_ledger(settings, scene, db):
    await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings):
        pass
    await db.execute("UPDATE verification.snapshots SET last_hash = NULL")  # as snapshots before 0010
    async with serving_ready(app_factory, settings) as client:
        runners = {r.projection.name: r for r in client.server.app[RUNNERS_KEY]}
        head = await scene.ledger.head_position()
        assert runners[PROJECTION_NAME].last_hash == await scene.ledger.hash_at(head)
