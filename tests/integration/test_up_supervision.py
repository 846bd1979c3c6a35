"""`credledger up` supervises its children (issue 13): a service killed with
kill -9 comes back by itself while the others keep serving; one that keeps
failing to start is given up with a clear line, the rest still running; and
Ctrl-C still stops everything. Real processes, real Postgres and broker."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request

import msgspec
import psutil
import pytest

from credledger.embedded import free_port
from credledger.supervisor import MAX_FAST_FAILURES
from shared.settings import SERVICE_NAMES
from tests.integration.test_smoke_stack import service_ports, start_up, stop_or_kill, stop_up, wait_for_line

RESTART_WITHIN = 10.0


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def service_pid(up_pid: int, service: str) -> int:
    for child in psutil.Process(up_pid).children():
        if child.cmdline()[-2:] == ["serve", service] and child.status() != psutil.STATUS_ZOMBIE:
            return child.pid
    raise AssertionError(f"no {service} process under credledger up")


def wait_for_new_pid(up_pid: int, service: str, old: list[int], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = service_pid(up_pid, service)
        except (AssertionError, psutil.Error):
            pid = None
        if pid is not None and pid not in old:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"{service} was not restarted within {timeout:.0f}s")


@pytest.mark.slow
def test_a_killed_service_comes_back_and_one_that_cannot_start_is_given_up(settings, tmp_path):
    settings = msgspec.structs.replace(settings, **service_ports(), gateway_port=free_port())
    # `up` migrates as the owner, then runs every child as the app role.
    env = {**os.environ, **settings.to_env(), "CREDLEDGER_MIGRATION_DATABASE_URL": settings.migration_database_url}
    up = start_up(tmp_path / "home", env)
    try:
        wait_for_line(up, "ready in")
        pids = {service: service_pid(up.pid, service) for service in SERVICE_NAMES}

        os.kill(pids["registry"], signal.SIGKILL)
        killed_at = time.monotonic()
        while not ready(settings.url_of("registry")) and time.monotonic() - killed_at < RESTART_WITHIN:
            time.sleep(0.1)
        back_after = time.monotonic() - killed_at
        assert ready(settings.url_of("registry")), f"registry not ready {back_after:.1f}s after kill -9"
        assert service_pid(up.pid, "registry") != pids["registry"]
        for service in ("issuance", "revocation", "verification"):
            assert service_pid(up.pid, service) == pids[service] and ready(settings.url_of(service))
        lines = wait_for_line(up, "registry restarted")
        assert any("registry exited with code -9" in line for line in lines)

        # Revocation killed again each time it comes back: failures right after
        # starting, so the pauses grow and the supervisor gives up on it.
        killed = [pids["revocation"]]
        os.kill(killed[0], signal.SIGKILL)
        while len(killed) <= MAX_FAST_FAILURES:
            killed.append(wait_for_new_pid(up.pid, "revocation", killed))
            os.kill(killed[-1], signal.SIGKILL)
        lines = wait_for_line(up, "giving up on revocation")
        assert sum("revocation restarted" in line for line in lines) == MAX_FAST_FAILURES
        for service in ("registry", "issuance", "verification"):
            assert ready(settings.url_of(service)), f"{service} stopped serving"
        children = [p.pid for p in psutil.Process(up.pid).children(recursive=True)]
    except BaseException:
        stop_or_kill(up)
        raise
    assert "stopped" in stop_up(up)
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
