"""`python -m services.verification --workers 2`: the workers accept from one
shared socket, so a worker that cannot take a connection (busy, or here
stopped outright) leaves it to the other instead of holding it."""

from __future__ import annotations

import asyncio
import signal
import time

import msgspec
import psutil

from credledger.embedded import free_port
from tests.support.processes import http_get, start, stop


def _wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while http_get(f"{url}/readyz")[0] != 200:
        assert time.monotonic() < deadline, "the verification workers did not become ready"
        time.sleep(0.2)


async def test_a_stopped_worker_leaves_new_connections_to_the_other(settings, tmp_path):
    settings = msgspec.structs.replace(settings, verification_port=free_port())
    url = settings.url_of("verification")
    parent = start(["-m", "services.verification", "--workers", "2"], settings, tmp_path / "workers.log")
    try:
        await asyncio.to_thread(_wait_ready, url)
        workers = [p for p in psutil.Process(parent.pid).children() if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2
        workers[0].send_signal(signal.SIGSTOP)
        try:
            # Each request on a new connection (urllib closes it): with one
            # socket per worker (SO_REUSEPORT) about half of them would be
            # hashed to the stopped worker and time out.
            statuses = [(await asyncio.to_thread(http_get, f"{url}/healthz"))[0] for _ in range(20)]
        finally:
            workers[0].send_signal(signal.SIGCONT)
        assert statuses == [200] * 20
    finally:
        stop(parent, timeout=60)
