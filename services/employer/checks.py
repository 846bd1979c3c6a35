"""An employer's checks: one credential at a time, or a whole candidate file.

A file becomes a job of the verification service, uploaded while it
streams in (the candidates are stored here in pieces on the way), so a
100,000-row file never sits in memory. `Tracker` follows unfinished jobs
(their progress is what the page shows) and, when a job is done, copies
its answers here in words, row by row as they stream back, beside the
candidates, for the table, its filters and the CSV export.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import msgspec

from services.employer.candidates import Candidate, CandidateReader, credential_of, job_body
from services.employer.organisations import User
from services.employer.reasons import Explained, explain
from services.employer.verification_client import VerificationClient, VerificationUnavailable
from services.verification.schemas import Identity, ItemResult, VerificationItem
from shared.db.sql import load_queries
from shared.refusals import Invalid, NotFound, Refusal

log = logging.getLogger(__name__)

QUERIES = load_queries("services.employer")
VERDICTS = ("valid", "invalid", "unknown")
IMPORT_BATCH = 5000
MAX_LABEL = 200
_CANDIDATE_COLUMNS = ("check_id", "row_no", "name", "email", "credential")
_RESULT_COLUMNS = ("check_id", "row_no", "verdict", "credential_id", "title", "issuer", "issued_on", "identity",
                   "reasons")


@dataclass(frozen=True, slots=True)
class Acting:
    """A portal user acting, with the employer's key for the verification service."""

    user: User
    api_key: str


async def start_bulk(pool: asyncpg.Pool, client: VerificationClient, acting: Acting, label: str,
                     chunks: AsyncIterator[bytes]) -> uuid.UUID:
    check_id = uuid.uuid4()
    await pool.execute(QUERIES["insert_check"], check_id, acting.user.tenant_id, acting.user.user_id, "bulk",
                       (label or "candidates.csv")[:MAX_LABEL])

    async def keep(candidates: list[Candidate]) -> None:
        await pool.copy_records_to_table(
            "candidates", schema_name="employer", columns=_CANDIDATE_COLUMNS,
            records=[(check_id, c.row_no, c.name, c.email, c.credential) for c in candidates])

    reader = CandidateReader()
    try:
        created = await client.submit_job(acting.api_key, job_body(chunks, keep, reader))
    except Refusal as refusal:
        await pool.execute(QUERIES["check_failed"], check_id, refusal.detail)
        raise
    await pool.execute(QUERIES["job_submitted"], check_id, uuid.UUID(created.job_id), created.total)
    log.info("bulk check submitted", extra={"check_id": str(check_id), "job_id": created.job_id,
                                            "rows": created.total})
    return check_id


def item_from_text(text: str, email: str) -> VerificationItem:
    """What a pasted badge link, id, JWT or JSON document asks to check."""
    text = text.strip()
    if not text:
        raise Invalid("paste a badge link, a credential id, a JWT or a JSON document", code="nothing-to-check")
    identity = Identity("emailAddress", email.strip()) if email.strip() else None
    if text.startswith("{"):
        try:
            document = msgspec.json.decode(text.encode(), type=dict)
        except msgspec.DecodeError as exc:
            raise Invalid(f"the pasted text starts like JSON but is not valid JSON: {exc}", code="bad-json") from None
        return VerificationItem(credential=document, identity=identity)
    if text.count(".") == 2 and " " not in text and not text.startswith(("http", "urn:")):
        return VerificationItem(jwt=text, identity=identity)
    return VerificationItem(id=credential_of(text), identity=identity)


async def check_one(pool: asyncpg.Pool, client: VerificationClient, acting: Acting, item: VerificationItem,
                    label: str) -> uuid.UUID:
    result, _ = await client.verify(acting.api_key, item)
    check_id = uuid.uuid4()
    explained = explain(result)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(QUERIES["insert_check"], check_id, acting.user.tenant_id, acting.user.user_id, "single",
                           label[:MAX_LABEL])
        await conn.copy_records_to_table("candidates", schema_name="employer", columns=_CANDIDATE_COLUMNS, records=[
            (check_id, 0, "", item.identity.value if item.identity else "", label[:MAX_LABEL])])
        await conn.copy_records_to_table("results", schema_name="employer", columns=_RESULT_COLUMNS, records=[
            _result_record(check_id, 0, result, explained)])
        await conn.execute(QUERIES["single_done"], check_id, msgspec.json.encode({result.verdict: 1}).decode())
    return check_id


def _result_record(check_id: uuid.UUID, row_no: int, result: ItemResult, explained: Explained) -> tuple:
    summary = result.summary
    return (check_id, row_no, result.verdict, result.id or "", summary.title if summary else "",
            summary.issuer if summary else "", summary.issued_on if summary else "", explained.identity,
            explained.reasons)


async def check_of(pool: asyncpg.Pool, user: User, check_id: str) -> asyncpg.Record:
    """The check if it is this user's employer's; otherwise NotFound, as for no check at all."""
    try:
        parsed = uuid.UUID(check_id)
    except ValueError:
        raise NotFound("no such check") from None
    row = await pool.fetchrow(QUERIES["check_of_tenant"], parsed, user.tenant_id)
    if row is None:
        raise NotFound("no such check")
    return row


async def history(pool: asyncpg.Pool, user: User, limit: int = 100) -> list[asyncpg.Record]:
    return await pool.fetch(QUERIES["history"], user.tenant_id, limit)


def verdict_filter(value: str | None) -> str | None:
    if value in (None, "", "all"):
        return None
    if value not in VERDICTS:
        raise Invalid("the filter is one of all, valid, invalid, unknown", code="bad-filter")
    return value


async def results_page(pool: asyncpg.Pool, check: asyncpg.Record, verdict: str | None, page: int,
                       per_page: int = 100) -> list[asyncpg.Record]:
    return await pool.fetch(QUERIES["results_page"], check["check_id"], verdict, per_page, max(page, 0) * per_page)


async def result_rows(pool: asyncpg.Pool, check: asyncpg.Record, verdict: str | None) -> AsyncIterator[list]:
    """Every row of a check, in pieces (for the CSV export)."""
    after = 0
    while rows := await pool.fetch(QUERIES["result_rows"], check["check_id"], after, verdict, IMPORT_BATCH):
        yield rows
        after = rows[-1]["row_no"] + 1


class Tracker:
    """Follows each unfinished job and imports its answers once it is done."""

    def __init__(self, pool: asyncpg.Pool, client: VerificationClient,
                 keys: Callable[[str], Awaitable[str]]) -> None:
        self._pool = pool
        self._client = client
        self._keys = keys  # tenant_id -> the employer's API key
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            for check in await self._pool.fetch(QUERIES["unfinished_checks"]):
                if stop.is_set():
                    return
                await self._follow(check)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)

    async def _follow(self, check: asyncpg.Record) -> None:
        try:
            key = await self._keys(check["tenant_id"])
            progress = await self._client.progress(key, str(check["job_id"]))
        except VerificationUnavailable as exc:
            log.warning("job progress unavailable", extra={"check_id": str(check["check_id"]), "error": exc.detail})
            return
        except Refusal as refusal:
            await self._pool.execute(QUERIES["check_failed"], check["check_id"], refusal.detail)
            return
        counts = msgspec.json.encode(progress.counts).decode()
        if progress.status in ("queued", "running") or (progress.status == "failed" and not progress.done):
            await self._pool.execute(QUERIES["progressed"], check["check_id"], progress.status, progress.done,
                                     counts, progress.error)
            return
        if await self._pool.fetchval(QUERIES["claim_import"], check["check_id"], progress.done, counts,
                                     progress.error) is None:
            return  # another replica is importing it
        await self._import(check, key)
        final = "completed" if progress.status == "completed" else "failed"
        await self._pool.execute(QUERIES["progressed"], check["check_id"], final, progress.done, counts,
                                 progress.error)
        log.info("bulk check done", extra={"check_id": str(check["check_id"]), "counts": progress.counts})

    async def _import(self, check: asyncpg.Record, key: str) -> None:
        check_id = check["check_id"]
        async with self._pool.acquire() as conn, conn.transaction():
            # A retry after a crash mid-import starts over, in one transaction.
            await conn.execute(QUERIES["clear_results"], check_id)
            batch: list[tuple] = []
            async for result in self._client.results(key, str(check["job_id"])):
                batch.append(_result_record(check_id, result.index, result, explain(result)))
                if len(batch) == IMPORT_BATCH:
                    await conn.copy_records_to_table("results", schema_name="employer", columns=_RESULT_COLUMNS,
                                                     records=batch)
                    batch = []
            if batch:
                await conn.copy_records_to_table("results", schema_name="employer", columns=_RESULT_COLUMNS,
                                                 records=batch)
