"""End to end: the relay and the four services as real subprocesses, the way
`credledger up` starts them; and `credledger up` itself on the embedded
default, restarted on the same home."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack

import asyncpg
import msgspec
import psutil
import pytest

from credledger.embedded import free_port, port_is_free
from credledger.stack import start_children
from shared.db.migrate import with_database
from shared.settings import SERVICE_NAMES
from tests.support.processes import ROOT
from tests.support.processes import http_get as get


def service_ports() -> dict[str, int]:
    return {f"{name}_port": free_port() for name in (*SERVICE_NAMES, "relay", "intake")}


async def test_four_services_start_serve_and_stop_cleanly(settings, tmp_path):
    settings = msgspec.structs.replace(settings, **service_ports())
    with ExitStack() as stack:
        children = await asyncio.to_thread(start_children, settings, tmp_path, stack)
        for service in SERVICE_NAMES:
            url = settings.url_of(service)
            status, body, _ = get(f"{url}/readyz")
            checks = json.loads(body)["checks"]
            assert status == 200 and checks["postgres"] and checks["broker"] and all(checks.values())
            status, body, _ = get(f"{url}/openapi.json")
            spec = json.loads(body)
            assert spec["openapi"].startswith("3.1") and "/v1/whoami" in spec["paths"]
            get(f"{url}/v1/whoami")  # a 401, counted under its route template
            status, body, content_type = get(f"{url}/metrics")
            assert content_type.startswith("text/plain")
            assert f'route="/v1/whoami",service="{service}",status="401"' in body.decode()
        pids = [p.pid for p in children.values()]
    for name, process in children.items():
        assert process.poll() is not None, f"{name} still running"
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    for service in SERVICE_NAMES:
        assert port_is_free(settings.port_of(service))
    assert "intake" in children and port_is_free(settings.intake_port)


def wait_for_line(process: subprocess.Popen, needle: str, timeout: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not seen; output:\n{''.join(lines)}")


def start_up(home, env, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "credledger", "up", "--home", str(home), *extra], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def stop_or_kill(up: subprocess.Popen) -> None:
    """After a failure: Ctrl-C as a user would, and SIGKILL for whatever is
    left, so that a failed test leaves no stack behind to disturb the next."""
    tree = psutil.Process(up.pid).children(recursive=True) if psutil.pid_exists(up.pid) else []
    up.send_signal(signal.SIGINT)
    try:
        up.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        up.kill()
    for process in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def stop_up(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=90)
    assert process.returncode == 0, out
    return out


@pytest.mark.slow
async def test_up_on_embedded_default_keeps_data_across_restarts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env.update({f"CREDLEDGER_{k.upper()}": str(v) for k, v in service_ports().items()})
    env["CREDLEDGER_GATEWAY_PORT"] = gateway_port = str(free_port())
    # The links the demo prints (wallet, portal) are on the public origin: this gateway.
    env["CREDLEDGER_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{gateway_port}"
    home = tmp_path / "home"

    first = start_up(home, env, "--demo")
    try:
        children = await _first_run(first, home, env)
    except BaseException:
        stop_or_kill(first)
        raise
    assert "stopped" in stop_up(first)
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]

    second = start_up(home, env)
    try:
        lines = wait_for_line(second, "ready in")
        assert any("migrations applied: 0" in line for line in lines)
        pg_line = next(line for line in lines if "embedded Postgres on port" in line)
        port = int(pg_line.split("port ")[1].split(",")[0])
        conn = await asyncpg.connect(with_database(f"postgresql://postgres@127.0.0.1:{port}/x", "credledger"))
        assert await conn.fetchval("SELECT v FROM kept") == "survives a restart"
        await conn.close()
    finally:
        stop_up(second)


async def _first_run(first: subprocess.Popen, home, env: dict[str, str]) -> list[int]:
    """The demo answers as seeded, every client is the app role; returns the stack's pids."""
    lines = wait_for_line(first, "ready in")
    demo = json.loads((home / "demo.json").read_text())
    assert demo["issuer"]["id"] == "demo-university" and demo["employer"]["api_key"].startswith("clk_")
    assert demo["revoked"] != demo["suspended"] and len(demo["stacked_award"]["components"]) == 2
    request = urllib.request.Request(
        f"http://127.0.0.1:{env['CREDLEDGER_VERIFICATION_PORT']}/v1/verifications", method="POST",
        data=json.dumps({"items": [{"id": demo["revoked"]}, {"id": demo["stacked_award"]["credential_id"]},
                                   {"id": demo["cross_issuer_award"]["credential_id"]}]}).encode(),
        headers={"Authorization": f"Bearer {demo['employer']['api_key']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        results = json.loads(response.read())["results"]
    assert [item["verdict"] for item in results] == ["invalid", "valid", "valid"], results
    # The cross-issuer award: components of two universities, one admitted by the recognition agreement.
    components = demo["cross_issuer_award"]["components"]
    assert {c["issuer"] for c in components} == {"demo-university", "demo-university-my"}
    assert {c["agreement_id"] for c in components} == {None, demo["recognition"]["agreement_id"]}
    # The printed wallet link opens the demo learner's sign-in; the claim emails are in the outbox.
    wallet = demo["wallet"]
    assert any(wallet["sign_in_link"] in line for line in lines)
    with urllib.request.urlopen(urllib.request.Request(wallet["sign_in_link"], headers={"Accept": "text/html"}),
                                timeout=10) as response:
        assert response.status == 200 and "Continue to Wallet" in response.read().decode()
    pg_line = next(line for line in lines if "embedded Postgres on port" in line)
    port = int(pg_line.split("port ")[1].split(",")[0])
    url = with_database(f"postgresql://postgres@127.0.0.1:{port}/x", "credledger")
    conn = await asyncpg.connect(url)
    # Least privilege on the embedded default: every service and the relay
    # are connected as the app role, none as the owner.
    users = await conn.fetch("SELECT DISTINCT usename FROM pg_stat_activity"
                             " WHERE datname = 'credledger' AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    assert [r["usename"] for r in users] == ["credledger_app"]
    await conn.execute("CREATE TABLE kept (v text)")
    await conn.execute("INSERT INTO kept VALUES ('survives a restart')")
    await conn.close()
    return [p.pid for p in psutil.Process(first.pid).children(recursive=True)]
