"""HTTP handlers of the verification API (the audit ones are in audit_handlers.py)."""

from __future__ import annotations

import datetime as dt

import msgspec
from aiohttp import web

from services.verification import jobs
from services.verification.batch import BatchOutcome, Entry, id_problem, item_problem, record_verdicts
from services.verification.job_formats import csv_header
from services.verification.page import render_not_found, render_page
from services.verification.projection import ITEMS_COUNTER_KEY, MODEL_KEY, VERIFIER_KEY
from services.verification.runtime import JOB_WORKER_KEY
from services.verification.schemas import MAX_ITEMS, JobCreated, JobProgress, VerificationItem
from shared import untrusted
from shared.http.body import check_content_type, json_response, limited_chunks, read_limited
from shared.http.endpoints import principal_of
from shared.http.problem import Problem, bad_request, not_found
from shared.service import POOL_KEY, SETTINGS_KEY
from shared.timeutil import format_time

WRITE_PIECE = 256 * 1024
JOB_TYPES = {"application/x-ndjson": "ndjson", "text/csv": "csv"}


class _RawItems(msgspec.Struct, forbid_unknown_fields=True):
    items: list[msgspec.Raw]


_ITEM = msgspec.json.Decoder(VerificationItem)


def decode_items(raw: bytes) -> list[Entry]:
    """Each item decoded on its own, so a malformed one fails only itself.

    The whole body goes through the untrusted-input checks first (UTF-8,
    NUL, depth; UTF-8 separately, as msgspec does not look inside the strings
    of a Raw item): after them no item can raise anything but a validation
    error."""
    if not raw:
        raise bad_request("the request body is empty; send {\"items\": [...]}")
    untrusted.text(raw, "body")
    return [_decode_item(item) for item in untrusted.decode_json(raw, _RawItems).items]


def _decode_item(raw: msgspec.Raw) -> Entry:
    try:
        return _ITEM.decode(raw)
    except msgspec.ValidationError as exc:
        return item_problem(f"the item is not valid: {exc}")


def _record(request: web.Request, outcome: BatchOutcome) -> None:
    record_verdicts(request.app[ITEMS_COUNTER_KEY], outcome.counts)


async def verify_items(request: web.Request) -> web.Response:
    check_content_type(request)
    items = decode_items(await read_limited(request, request.app[SETTINGS_KEY].max_bulk_body_bytes))
    if len(items) > MAX_ITEMS:
        raise Problem(413, "too-many-items", "Too many items",
                      f"a request holds at most {MAX_ITEMS:,} items, this one {len(items):,}; "
                      "use /v1/verification-jobs for larger pools")
    verifier = request.app[VERIFIER_KEY]
    position = verifier.model.position
    outcome = await verifier.run_sliced(items)
    _record(request, outcome)
    head = b'{"as_of_position":%d,"checked_at":"%s","counts":%b,"results":[' % (
        position, format_time(dt.datetime.now(dt.timezone.utc)).encode(), msgspec.json.encode(outcome.counts))
    return await _send_in_pieces(request, head, outcome.answers, b"]}")


async def _send_in_pieces(request: web.Request, head: bytes, answers: list[bytes], tail: bytes) -> web.StreamResponse:
    """Send a large answer in pieces, waiting for each to drain. Handed over
    whole, megabytes would sit in the transport's buffer, which (Python 3.11)
    is compacted with a memmove after every socket send: CPU that every other
    request on this event loop waits for. It also saves joining it whole."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(head) + sum(map(len, answers)) + max(len(answers) - 1, 0) + len(tail)
    await response.prepare(request)
    piece, size = [head], len(head)
    for index, answer in enumerate(answers):
        piece.append(b"," + answer if index else answer)
        size += len(answer)
        if size >= WRITE_PIECE:
            await response.write(b"".join(piece))
            piece, size = [], 0
    piece.append(tail)
    await response.write(b"".join(piece))
    await response.write_eof()
    return response


def _verify_one(request: web.Request) -> bytes:
    credential_id = request.match_info["credential_id"]
    if credential_id not in request.app[MODEL_KEY].credentials and (malformed := id_problem(credential_id)):
        raise bad_request(malformed)
    outcome = request.app[VERIFIER_KEY].run([VerificationItem(id=credential_id)])
    _record(request, outcome)
    return outcome.answers[0]


async def credential_verification(request: web.Request) -> web.Response:
    return web.Response(body=_verify_one(request), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


async def verification_page(request: web.Request) -> web.Response:
    credential_id = request.match_info["credential_id"]
    model = request.app[MODEL_KEY]
    record = model.credentials.get(credential_id)
    if record is None:
        return web.Response(status=404, text=render_not_found(credential_id), content_type="text/html")
    result = msgspec.json.decode(_verify_one(request))
    return web.Response(text=render_page(model, credential_id, record, result), content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def create_job(request: web.Request) -> web.Response:
    check_content_type(request, tuple(JOB_TYPES))
    principal = principal_of(request)
    job_id, total = await jobs.create_job(
        request.app[POOL_KEY], principal.client_id, principal.tenant_id, JOB_TYPES[request.content_type],
        limited_chunks(request, request.app[SETTINGS_KEY].max_bulk_body_bytes))
    request.app[JOB_WORKER_KEY].wake.set()
    links = _links(job_id)
    return json_response(JobCreated(str(job_id), "queued", total, links), status=202,
                         headers={"Location": links["self"]})


def _links(job_id: object) -> dict[str, str]:
    base = f"/v1/verification-jobs/{job_id}"
    return {"self": base, "results": base + "/results"}


async def _owned_job(request: web.Request):
    job = await jobs.job_of(request.app[POOL_KEY], request.match_info["job_id"], principal_of(request).client_id)
    if job is None:
        raise not_found("no verification job with this id belongs to this API client")
    return job


async def job_progress(request: web.Request) -> web.Response:
    job = await _owned_job(request)
    rate = eta = None
    if job["started_at"] is not None and job["done"]:
        elapsed = (job["updated_at"] - job["started_at"]).total_seconds()
        rate = job["done"] / elapsed if elapsed > 0 else None
        eta = (job["total"] - job["done"]) / rate if rate else None
    return json_response(JobProgress(
        str(job["job_id"]), job["status"], job["total"], job["done"], format_time(job["created_at"]),
        format_time(job["updated_at"]), rate, eta, msgspec.json.decode(job["counts"]), _links(job["job_id"]),
        job["last_error"] if job["status"] == "failed" else None))


def _results_format(request: web.Request) -> str:
    wanted = request.query.get("format")
    if wanted is None:
        return "csv" if "text/csv" in request.headers.get("Accept", "") else "ndjson"
    if wanted not in ("csv", "ndjson"):
        raise bad_request(f"format must be 'csv' or 'ndjson', not {wanted!r}")
    return wanted


async def job_results(request: web.Request) -> web.StreamResponse:
    fmt = _results_format(request)
    job = await _owned_job(request)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
        "X-Job-Status": job["status"], "X-Job-Done": str(job["done"]), "X-Job-Total": str(job["total"]),
    })
    await response.prepare(request)
    if fmt == "csv":
        await response.write(csv_header())
    chunks = (jobs.result_chunks_as_csv(request.app[POOL_KEY], job) if fmt == "csv"
              else jobs.result_chunks(request.app[POOL_KEY], job["job_id"]))
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response
