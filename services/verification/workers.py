"""Several verification processes on one port (SO_REUSEPORT).

Verification is CPU-bound Python, so one process uses one core. N processes
share the port and the kernel spreads connections across them; each builds
its own read model from the ledger (and its snapshot), and jobs are shared
safely through their leases in Postgres. The cost is memory (one read model
per process) and per-process /metrics.
"""

from __future__ import annotations

import multiprocessing
import os
import signal

from aiohttp import web

from services.verification.app import create_app
from shared.logs import configure_logging
from shared.settings import load_settings

SERVICE = "verification"


def run_worker() -> None:
    settings = load_settings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    web.run_app(create_app(settings), host=settings.host, port=settings.port_of(SERVICE), reuse_port=True,
                access_log=None, print=None, handler_cancellation=True)


def run_workers(count: int) -> None:
    """Start `count` workers and wait; SIGTERM/SIGINT stop each cleanly (with its snapshot)."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=run_worker, name=f"{SERVICE}-{n}") for n in range(count)]
    for worker in workers:
        worker.start()

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGINT)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()
