"""Bulk verification jobs: stored in Postgres, worked in the background.

An upload is stored in chunks of `CHUNK_LINES` lines as it streams in, in
one transaction, so an accepted job is durable and a failed upload leaves
nothing. A worker leases one job at a time and processes it chunk by chunk;
each chunk's answers and the job's progress commit together, so a restart
(or another replica taking over an expired lease) resumes at the first
chunk without answers and never answers a line twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import AsyncIterator

import asyncpg
import msgspec
from prometheus_client import Counter

from services.verification.batch import BatchVerifier, Entry, record_verdicts
from services.verification.cpu_step import QUANTUM, CpuStep
from services.verification.job_formats import DEFAULT_COLUMNS, header_columns, ndjson_to_csv, parse_lines
from shared.db.sql import load_queries
from shared.lifecycle import wait_any
from shared.refusals import Invalid, TooLarge

log = logging.getLogger(__name__)

QUERIES = load_queries("services.verification")
CHUNK_LINES = 10_000
MAX_LINES = 1_000_000
MAX_LINE_BYTES = 1024 * 1024
# Items between two checks for shutdown (run_sliced yields to requests
# every 1,000 items within them).
SLICE = 2000
# Lines parsed between two looks at the CPU quantum: a chunk's 10,000 lines
# parsed in one go held the event loop for tens of milliseconds.
PARSE_SLICE = 500
LEASE_SECONDS = 30
# Attempts before a job that keeps failing (or killing its worker) is given
# up: enough to ride out a restart, few enough that the queue moves on.
MAX_ATTEMPTS = 3
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Upload:
    """Splits a streamed body into non-empty lines and stores them in chunks."""

    def __init__(self, conn: asyncpg.Connection, job_id: uuid.UUID, input_format: str) -> None:
        self._conn = conn
        self._job_id = job_id
        self._csv = input_format == "csv"
        self.columns: list[str] = list(DEFAULT_COLUMNS) if self._csv else []
        self.total = 0
        self.chunks = 0
        self._lines: list[bytes] = []
        self._partial = b""
        self._first = True

    async def feed(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            raise TooLarge(f"lines are limited to {MAX_LINE_BYTES} bytes",
                           code="line-too-long", title="A line is too long")
        for line in lines:
            await self._add(line)

    async def close(self) -> None:
        await self._add(self._partial)
        await self._flush()

    async def _add(self, line: bytes) -> None:
        line = line.strip()
        if not line:
            return
        if self._first and self._csv:
            self._first = False
            if (columns := header_columns(line)) is not None:
                self.columns = columns
                return
        self.total += 1
        if self.total > MAX_LINES:
            raise TooLarge(f"a job holds at most {MAX_LINES:,} lines; split the file",
                           code="too-many-lines", title="The job is too large")
        self._lines.append(line)
        if len(self._lines) == CHUNK_LINES:
            await self._flush()

    async def _flush(self) -> None:
        if not self._lines:
            return
        data = zlib.compress(b"\n".join(self._lines), 1)
        await self._conn.execute(QUERIES["insert_input"], self._job_id, self.chunks, len(self._lines), data)
        self.chunks += 1
        self._lines = []


async def create_job(pool: asyncpg.Pool, owner_client: str, owner_tenant: str, input_format: str,
                     body: AsyncIterator[bytes]) -> tuple[uuid.UUID, int]:
    job_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        upload = Upload(conn, job_id, input_format)
        await conn.execute(QUERIES["insert_job"], job_id, owner_client, owner_tenant, input_format)
        async for data in body:
            await upload.feed(data)
        await upload.close()
        if upload.total == 0:
            raise Invalid("the body holds no non-empty line",
                          code="empty-job", title="The job has no items")
        await conn.execute(QUERIES["seal_job"], job_id, upload.total, upload.chunks, upload.columns)
    log.info("job created", extra={"job_id": str(job_id), "lines": upload.total, "client": owner_client})
    return job_id, upload.total


async def job_of(pool: asyncpg.Pool, job_id: str, owner_client: str) -> asyncpg.Record | None:
    """The job if it exists and belongs to this client (else None: no hint it exists)."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        return None
    return await pool.fetchrow(QUERIES["job_of_owner"], parsed, owner_client)


async def result_chunks(pool: asyncpg.Pool, job_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The answers, chunk by chunk as NDJSON, one row in memory at a time."""
    chunk_no = 0
    while (data := await pool.fetchval(QUERIES["result_chunk"], job_id, chunk_no)) is not None:
        yield zlib.decompress(data)
        chunk_no += 1


async def result_chunks_as_csv(pool: asyncpg.Pool, job: asyncpg.Record) -> AsyncIterator[bytes]:
    """The answers as CSV rows, chunk by chunk, each beside what its input line sent."""
    chunk_no = 0
    while (row := await pool.fetchrow(QUERIES["result_chunk_with_input"], job["job_id"], chunk_no)) is not None:
        inputs = parse_lines(zlib.decompress(row["input"]).split(b"\n"), job["input_format"], list(job["csv_columns"]))
        yield ndjson_to_csv(zlib.decompress(row["data"]), inputs)
        chunk_no += 1


class JobWorker:
    def __init__(self, pool: asyncpg.Pool, verifier: BatchVerifier, owner: str, items_counter: Counter,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._pool = pool
        self._verifier = verifier
        self._owner = owner
        self._items_counter = items_counter
        self._max_attempts = max_attempts
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        # Answers from a model still replaying the ledger would be `unknown`.
        caught_up = self._verifier.freshness.caught_up
        while not caught_up.is_set() and not stop.is_set():
            await wait_any(poll_interval, stop, caught_up)
        while not stop.is_set():
            try:
                await self._fail_exhausted()
                job = await self._pool.fetchrow(QUERIES["claim_job"], self._owner, LEASE_SECONDS,
                                                self._max_attempts)
                if job is not None:
                    await self._attempt(job, stop)
                    continue
            except _DATABASE_ERRORS as exc:
                log.warning("job worker lost the database", extra={"error": repr(exc)})
            self.wake.clear()
            await wait_any(poll_interval, stop, self.wake)
        await self._release()

    async def _fail_exhausted(self) -> None:
        # Jobs whose workers died under them (killed, out of memory) never
        # reach `_attempt`'s handler; their claims counted all the same.
        for job in await self._pool.fetch(QUERIES["fail_exhausted_jobs"], self._max_attempts):
            log.error("job failed: its attempts are used up", extra={
                "job_id": str(job["job_id"]), "attempts": job["attempts"], "reason": job["last_error"]})

    async def _attempt(self, job: asyncpg.Record, stop: asyncio.Event) -> None:
        """Process the job; a failure that is not the database's ends this attempt, never the worker."""
        try:
            await self._process(job, stop)
        except _DATABASE_ERRORS:
            raise  # not the job's fault: its lease expires and it is taken up again
        except Exception as exc:  # noqa: BLE001 - whatever one job does must not stop the queue
            reason = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("job attempt failed", extra={
                "job_id": str(job["job_id"]), "attempt": job["attempts"], "max_attempts": self._max_attempts})
            status = await self._pool.fetchval(QUERIES["attempt_failed"], job["job_id"], self._owner, reason,
                                               self._max_attempts)
            if status == "failed":
                log.error("job failed", extra={"job_id": str(job["job_id"]), "attempts": job["attempts"],
                                               "reason": reason})

    async def _process(self, job: asyncpg.Record, stop: asyncio.Event) -> None:
        job_id, counts = job["job_id"], msgspec.json.decode(job["counts"])
        log.info("job resumed" if job["next_chunk"] else "job started",
                 extra={"job_id": str(job_id), "chunk": job["next_chunk"], "chunks": job["chunks"]})
        first_index = job["done"]
        # Each chunk commits (compressing its answers in a thread) while the
        # next one is verified; commits stay in chunk order.
        commit: asyncio.Task[bool] | None = None
        try:
            for chunk_no in range(job["next_chunk"], job["chunks"]):
                row = await self._pool.fetchrow(QUERIES["input_chunk"], job_id, chunk_no)
                answers = await self._verify_chunk(job, zlib.decompress(row["data"]).split(b"\n"), first_index,
                                                   counts, stop)
                if answers is None or (commit is not None and not await commit):
                    return  # stopping, or the lease was lost: whoever holds it continues
                commit = asyncio.create_task(self._commit(job_id, chunk_no, answers, dict(counts)))
                first_index += row["lines"]
            if commit is not None and not await commit:
                return
        finally:
            if commit is not None and not commit.done():
                await asyncio.wait([commit])
        await self._pool.execute(QUERIES["complete_job"], job_id, self._owner)
        log.info("job completed", extra={"job_id": str(job_id), "counts": counts})

    async def _verify_chunk(self, job: asyncpg.Record, lines: list[bytes], first_index: int,
                            counts: dict[str, int], stop: asyncio.Event) -> list[bytes] | None:
        step = CpuStep()
        entries = await _parse_sliced(lines, job["input_format"], list(job["csv_columns"]), step)
        answers: list[bytes] = []
        for start in range(0, len(entries), SLICE):
            if stop.is_set():
                return None
            outcome = await self._verifier.run_sliced(entries[start:start + SLICE], first_index + start, step=step)
            answers += outcome.answers
            record_verdicts(self._items_counter, outcome.counts)
            for verdict, n in outcome.counts.items():
                counts[verdict] = counts.get(verdict, 0) + n
        return answers

    async def _commit(self, job_id: uuid.UUID, chunk_no: int, answers: list[bytes], counts: dict[str, int]) -> bool:
        # zlib releases the GIL: compressing a chunk's answers (megabytes) in a
        # thread keeps the event loop, and the requests on it, moving meanwhile.
        data = await asyncio.to_thread(zlib.compress, b"\n".join(answers) + b"\n", 1)
        async with self._pool.acquire() as conn, conn.transaction():
            advanced = await conn.fetchval(
                QUERIES["advance_job"], job_id, chunk_no, len(answers), msgspec.json.encode(counts).decode(),
                self._owner, LEASE_SECONDS)
            if advanced is None:
                return False
            await conn.execute(QUERIES["insert_result"], job_id, chunk_no, data)
        return True

    async def _release(self) -> None:
        try:
            await self._pool.execute(QUERIES["release_jobs"], self._owner)
        except _DATABASE_ERRORS as exc:
            log.warning("could not release job leases; they expire", extra={"error": repr(exc)})


async def _parse_sliced(lines: list[bytes], input_format: str, columns: list[str], step: CpuStep) -> list[Entry]:
    """`parse_lines`, yielding to the event loop whenever `step` has used its CPU quantum."""
    entries: list[Entry] = []
    for start in range(0, len(lines), PARSE_SLICE):
        await step.yield_if_spent(QUANTUM)
        entries += parse_lines(lines[start:start + PARSE_SLICE], input_format, columns)
    return entries
