"""The job worker's place in the app: its key and the context that runs it
(jobs.py stays free of aiohttp; the read model's parts are in projection.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from services.verification.jobs import JobWorker
from services.verification.projection import ITEMS_COUNTER_KEY, VERIFIER_KEY
from shared.background import BackgroundLoop, running
from shared.service import LOOPS_KEY, POOL_KEY

JOB_WORKER_KEY = web.AppKey("job_worker", JobWorker)


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    # Unique per process: a lease names the replica working on a job.
    owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    worker = JobWorker(app[POOL_KEY], app[VERIFIER_KEY], owner, app[ITEMS_COUNTER_KEY])
    app[JOB_WORKER_KEY] = worker
    loop = BackgroundLoop("job_worker", worker.run)
    app[LOOPS_KEY].append(loop)
    async with running(loop):
        yield
