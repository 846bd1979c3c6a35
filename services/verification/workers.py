"""Several verification processes on one listening socket.

Verification is CPU-bound Python, so one process uses one core. N processes
accept from one socket, made by the parent and handed to each; each builds
its own read model from the ledger (and its snapshot), and jobs are shared
safely through their leases in Postgres. The cost is memory (one read model
per process) and per-process /metrics.

One socket rather than one per process (SO_REUSEPORT): with SO_REUSEPORT
the kernel hashes each new connection to a process whatever that process
is doing, so a small interactive check could queue behind two 10,000-item
batches on one worker while the other sat idle. On one shared socket every
process is told of the connection, and the first to look takes it: an idle
one, waiting in its poll, at once; a busy one only between the slices of its
work (batch.run_sliced).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket

from aiohttp import web

from services.verification.app import create_app
from shared.logs import configure_logging
from shared.settings import load_settings

SERVICE = "verification"
# Connections waiting to be accepted by some worker; Linux's default somaxconn.
BACKLOG = 4096


def run_worker(sock: socket.socket) -> None:
    """One process, accepting from `sock` beside the other workers."""
    settings = load_settings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    web.run_app(create_app(settings), sock=sock, backlog=BACKLOG, access_log=None, print=None,
                handler_cancellation=True)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def run_workers(count: int) -> None:
    """Start `count` workers on one socket and wait; SIGTERM/SIGINT stop each cleanly (with its snapshot)."""
    settings = load_settings()
    sock = listening_socket(settings.host, settings.port_of(SERVICE))
    context = multiprocessing.get_context("spawn")
    # A socket passed to a spawned process reaches it as a duplicate of its descriptor.
    workers = [context.Process(target=run_worker, args=(sock,), name=f"{SERVICE}-{n}") for n in range(count)]
    for worker in workers:
        worker.start()
    sock.close()  # the workers hold it now

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGINT)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()
