"""No job line, and no job, stops bulk verification for everyone (issue 13).

A poison line is a per-line problem; a job that keeps failing is failed
after a bounded number of attempts and the jobs behind it run; the worker's
health is part of /readyz."""

from __future__ import annotations

import csv
import functools
import io
import json

from services.verification import jobs
from services.verification.app import create_app
from services.verification.projection import ReadModelOptions
from tests.integration.test_verification_jobs import NDJSON, submit, wait_completed
from tests.support.credentials_for_verification import build_scene, eventually, issue, serving_ready
from tests.support.http import bearer

app_factory = functools.partial(create_app, options=ReadModelOptions(idle_check_interval=0.2))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def jwt_nested(depth: int) -> str:
    import base64

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return ".".join([part(b'{"alg":"EdDSA","typ":"vc+jwt","kid":"k"}'),
                     part(b'{"a":' + nested(depth).encode() + b"}"), part(b"s" * 64)])


async def results_of(client, key, created, fmt="ndjson"):
    response = await client.get(created["links"]["results"] + f"?format={fmt}", headers=bearer(key))
    text = await response.text()
    return list(csv.DictReader(io.StringIO(text))) if fmt == "csv" else [json.loads(x) for x in text.splitlines()]


async def test_poison_lines_are_per_line_problems_and_the_next_employers_job_runs(db, settings):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    poison_ndjson = b"\n".join([
        ('{"credential": ' + nested(1000) + "}").encode(),
        b'{"id":"\xff"}',
        json.dumps({"id": ada.credential_id}).encode(),
    ])
    poison_csv = "\n".join([f"jwt\n{jwt_nested(5000)}", ada.jwt(scene.issuer)]).encode()
    oversized_first_cell = b'"' + b"x" * 131_073 + b'",ada@example.org\n' + ada.credential_id.encode()
    async with serving_ready(app_factory, settings) as client:
        first = await submit(client, scene.employer_key, poison_ndjson, NDJSON)
        second = await submit(client, scene.employer_key, poison_csv, "text/csv")
        third = await submit(client, scene.employer_key, oversized_first_cell, "text/csv")
        other = await submit(client, scene.other_employer_key, ada.credential_id.encode(), "text/csv")
        assert (await wait_completed(client, scene.other_employer_key, other["job_id"]))["counts"]["valid"] == 1
        for job in (first, second, third):
            await wait_completed(client, scene.employer_key, job["job_id"])

        answers = await results_of(client, scene.employer_key, first)
        assert [a["verdict"] for a in answers] == ["unknown", "unknown", "valid"]
        assert [a["problem"]["status"] for a in answers[:2]] == [400, 400]
        assert "deeper than" in answers[0]["problem"]["detail"] and "UTF-8" in answers[1]["problem"]["detail"]
        rows = await results_of(client, scene.employer_key, second, "csv")
        assert [r["verdict"] for r in rows] == ["unknown", "valid"] and "JWS" in rows[0]["problem"]
        rows = await results_of(client, scene.employer_key, third, "csv")
        assert [r["verdict"] for r in rows] == ["unknown", "valid"] and "131,072" in rows[0]["problem"]
        readiness = await (await client.get("/readyz")).json()
        assert readiness["checks"]["loop:job_worker"] is True


async def test_a_job_that_keeps_failing_is_failed_after_its_attempts_and_the_next_job_runs(db, settings):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with serving_ready(app_factory, settings) as client:
        client_id = (await (await client.get("/v1/whoami", headers=bearer(scene.employer_key))).json())["client_id"]

    async def body():
        yield ada.credential_id.encode()
    # Stored input no worker can read (a corrupted chunk): every attempt fails.
    broken, _ = await jobs.create_job(db, client_id, "acme", "csv", body())
    await db.execute("UPDATE verification.job_inputs SET data = 'not zlib' WHERE job_id = $1", broken)
    # A job whose worker was killed under it on each of its attempts.
    abandoned, _ = await jobs.create_job(db, client_id, "acme", "csv", body())
    await db.execute("UPDATE verification.jobs SET status = 'running', attempts = $2, lease_owner = 'gone',"
                     " lease_until = now() - interval '1 second' WHERE job_id = $1", abandoned, jobs.MAX_ATTEMPTS)

    async with serving_ready(app_factory, settings) as client:
        after = await submit(client, scene.other_employer_key, ada.credential_id.encode(), "text/csv")
        assert (await wait_completed(client, scene.other_employer_key, after["job_id"]))["counts"]["valid"] == 1

        async def failed(job_id):
            progress = await (await client.get(f"/v1/verification-jobs/{job_id}",
                                               headers=bearer(scene.employer_key))).json()
            return progress if progress["status"] == "failed" else None
        progress = await eventually(functools.partial(failed, broken), timeout=30)
        assert "error" in progress["error"].lower()
        assert (await eventually(functools.partial(failed, abandoned), timeout=30))["error"] == \
            "the worker stopped while working on it"
        assert (await client.get("/readyz")).status == 200
    attempts = await db.fetchval("SELECT attempts FROM verification.jobs WHERE job_id = $1", broken)
    assert attempts == jobs.MAX_ATTEMPTS
