"""Bulk verification jobs end to end: streamed uploads, progress, results in
NDJSON and CSV, ownership, restart in the middle of a job, and the CLI."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json

import pytest

from credledger.cli import main as cli_main
from services.verification import jobs
from services.verification.app import create_app
from services.verification.projection import ReadModelOptions
from shared.events import credentials as cev
from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.support.credentials_for_verification import (
    build_scene,
    change_status,
    eventually,
    issue,
    serving_ready,
)
from tests.support.http import bearer

app_factory = functools.partial(create_app, options=ReadModelOptions(idle_check_interval=0.2))
NDJSON = "application/x-ndjson"


@pytest.fixture
async def scene(db, settings):
    return await build_scene(db, settings)


async def submit(client, key, body: bytes, content_type: str, status: int = 202):
    response = await client.post("/v1/verification-jobs", data=body,
                                 headers={**bearer(key), "Content-Type": content_type})
    assert response.status == status, await response.text()
    return await response.json(content_type=None)


async def wait_completed(client, key, job_id):
    async def probe():
        progress = await (await client.get(f"/v1/verification-jobs/{job_id}", headers=bearer(key))).json()
        return progress if progress["status"] == "completed" else None
    return await eventually(probe, timeout=30)


async def test_ndjson_job_progress_and_results_in_both_formats(settings, scene):
    good = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    revoked = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    await change_status(scene.ledger, scene.issuer, revoked.credential_id, cev.CredentialRevoked)
    lines = [
        json.dumps({"id": good.credential_id, "identity": {"type": "emailAddress", "value": "ada@example.org"}}),
        json.dumps({"id": revoked.credential_id}),
        "{broken",
        "",  # blank lines are not items
        json.dumps({"credential": good.document}),
    ]
    async with serving_ready(app_factory, settings) as client:
        created = await submit(client, scene.employer_key, "\n".join(lines).encode(), NDJSON)
        assert created["total"] == 4 and created["status"] == "queued"
        progress = await wait_completed(client, scene.employer_key, created["job_id"])
        assert (progress["done"], progress["total"]) == (4, 4)
        assert progress["counts"] == {"valid": 2, "invalid": 1, "unknown": 1}
        assert progress["items_per_second"] > 0 and progress["eta_seconds"] == 0

        response = await client.get(created["links"]["results"], headers=bearer(scene.employer_key))
        assert response.headers["Content-Type"] == "application/x-ndjson"
        results = [json.loads(line) for line in (await response.text()).splitlines()]
        assert [r["index"] for r in results] == [0, 1, 2, 3]
        assert [r["verdict"] for r in results] == ["valid", "invalid", "unknown", "valid"]
        assert results[2]["problem"]["status"] == 400

        response = await client.get(created["links"]["results"],
                                    headers={**bearer(scene.employer_key), "Accept": "text/csv"})
        rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert [r["verdict"] for r in rows] == ["valid", "invalid", "unknown", "valid"]
        assert rows[1]["failed_checks"] == "status:revoked"
        assert rows[0]["title"] == "Data Analysis with Python"
        metrics = await (await client.get("/metrics")).text()
        assert 'verification_items_total{verdict="valid"} 2.0' in metrics


async def test_csv_job_with_header_and_identities(settings, scene):
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    body = (f"credential_id,email\n{ada.credential_id},ada@example.org\n{ada.credential_id},eve@example.org\n"
            f"{ada.jwt(scene.issuer)},\n,nobody@example.org\n").encode()
    async with serving_ready(app_factory, settings) as client:
        created = await submit(client, scene.employer_key, body, "text/csv")
        assert created["total"] == 4
        await wait_completed(client, scene.employer_key, created["job_id"])
        response = await client.get(created["links"]["results"] + "?format=csv", headers=bearer(scene.employer_key))
        rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert [r["verdict"] for r in rows] == ["valid", "invalid", "valid", "unknown"]
        assert rows[1]["failed_checks"] == "identity_match:identity_mismatch"
        assert "names no credential" in rows[3]["problem"]


async def test_jobs_belong_to_their_employer_and_bad_uploads_store_nothing(settings, scene, db):
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    head = await scene.ledger.head_position()
    async with serving_ready(app_factory, settings) as client:
        created = await submit(client, scene.employer_key, ada.credential_id.encode(), "text/csv")
        for path in (created["links"]["self"], created["links"]["results"]):
            other = await client.get(path, headers=bearer(scene.other_employer_key))
            assert other.status == 404 and other.content_type == "application/problem+json"
        assert (await client.get("/v1/verification-jobs/not-a-uuid", headers=bearer(scene.employer_key))).status == 404
        assert (await client.get(created["links"]["self"], headers=bearer(scene.issuer.api_key))).status == 403
        await submit(client, BOOTSTRAP_ADMIN_KEY, b"x", "text/csv", status=403)
        await submit(client, scene.employer_key, b"x", "application/json", status=415)
        await submit(client, scene.employer_key, b"\n\n", "text/csv", status=422)
        bad_format = await client.get(created["links"]["results"] + "?format=xml", headers=bearer(scene.employer_key))
        assert bad_format.status == 400
    assert await db.fetchval("SELECT count(*) FROM verification.jobs") == 1
    assert await scene.ledger.head_position() == head


async def test_too_many_lines_is_413_and_stores_nothing(settings, scene, db, monkeypatch):
    monkeypatch.setattr(jobs, "MAX_LINES", 50)
    monkeypatch.setattr(jobs, "CHUNK_LINES", 10)
    async with serving_ready(app_factory, settings) as client:
        await submit(client, scene.employer_key, b"urn:uuid:x\n" * 51, "text/csv", status=413)
    assert await db.fetchval("SELECT count(*) FROM verification.job_inputs") == 0


async def test_job_survives_a_service_restart(settings, scene, db, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_LINES", 50)
    monkeypatch.setattr(jobs, "SLICE", 10)
    # The first service holds the job after three chunks until it stops, so
    # the job is part-way when it does, however fast or loaded the machine.
    held_after = {"lines": 3 * jobs.CHUNK_LINES}
    verify_chunk = jobs.JobWorker._verify_chunk

    async def held(self, job, lines, first_index, counts, stop):
        if held_after["lines"] is not None and first_index >= held_after["lines"]:
            await stop.wait()
            return None
        return await verify_chunk(self, job, lines, first_index, counts, stop)

    monkeypatch.setattr(jobs.JobWorker, "_verify_chunk", held)
    issued = [await issue(scene.ledger, scene.issuer, scene.achievement_id) for _ in range(5)]
    lines = [issued[i % 5].credential_id for i in range(20_000)]
    async with serving_ready(app_factory, settings) as client:
        created = await submit(client, scene.employer_key, "\n".join(lines).encode(), "text/csv")
        job_id = created["job_id"]

        async def started():
            done = await db.fetchval("SELECT done FROM verification.jobs WHERE job_id = $1", job_id)
            return done if done else None
        await eventually(started, interval=0.005)
    done_at_stop = await db.fetchval("SELECT done FROM verification.jobs WHERE job_id = $1", job_id)
    assert 0 < done_at_stop < 20_000, "the job should have been stopped part-way"
    assert await db.fetchval("SELECT lease_owner FROM verification.jobs WHERE job_id = $1", job_id) is None
    held_after["lines"] = None

    async with serving_ready(app_factory, settings) as client:
        progress = await wait_completed(client, scene.employer_key, job_id)
        assert progress["done"] == 20_000 and progress["counts"]["valid"] == 20_000
        text = await (await client.get(created["links"]["results"], headers=bearer(scene.employer_key))).text()
        indexes = [json.loads(line)["index"] for line in text.splitlines()]
        assert indexes == list(range(20_000))


async def test_cli_verifies_a_csv_file(settings, scene, tmp_path, capsys):
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    source, out = tmp_path / "pool.csv", tmp_path / "results.csv"
    source.write_text(f"id,email\n{ada.credential_id},ada@example.org\nurn:uuid:0000,bob@example.org\n")
    async with serving_ready(app_factory, settings) as client:
        url = str(client.make_url("")).rstrip("/")
        code = await asyncio.to_thread(cli_main, ["verify", "--csv", str(source), "--url", url,
                                                  "--api-key", scene.employer_key, "--out", str(out)])
        assert code == 0
        rows = list(csv.DictReader(out.open()))
        assert [(r["id"], r["verdict"]) for r in rows] == [(ada.credential_id, "valid"), ("", "unknown")]
        assert "not a credential id" in rows[1]["problem"]
        assert "2 checked: 1 valid, 0 invalid, 1 unknown" in capsys.readouterr().out
        bad_key = await asyncio.to_thread(cli_main, ["verify", "--csv", str(source), "--url", url,
                                                     "--api-key", "wrong", "--out", str(out)])
        assert bad_key == 1
