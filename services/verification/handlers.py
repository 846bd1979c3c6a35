"""HTTP handlers of the verification API (the audit ones are in audit_handlers.py)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable
from itertools import pairwise
from typing import TypeVar
from urllib.parse import quote, unquote

import msgspec
from aiohttp import web

from services.verification import badge, jobs, sharing
from services.verification.batch import BatchOutcome, Entry, id_problem, item_problem, record_verdicts
from services.verification.cpu_step import QUANTUM, CpuStep
from services.verification.credential_ids import id_body
from services.verification.job_formats import csv_header
from services.verification.model import CredentialRecord
from services.verification.page import badge_image, page_context
from services.verification.projection import ITEMS_COUNTER_KEY, MODEL_KEY, VERIFIER_KEY
from services.verification.runtime import JOB_WORKER_KEY
from services.verification.schemas import MAX_ITEMS, JobCreated, JobProgress, VerificationItem
from shared import untrusted
from shared.credential_format import new_credential_id
from shared.crypto.jcs import PlainJsonDecoder
from shared.http.body import check_content_type, json_response, limited_chunks, read_limited
from shared.http.endpoints import principal_of
from shared.http.problem import Problem, bad_request, not_found
from shared.service import POOL_KEY, SETTINGS_KEY
from shared.timeutil import format_time
from shared.web.public import PublicPages

WRITE_PIECE = 256 * 1024
WHOLE_ANSWER = 4 * WRITE_PIECE
JOB_TYPES = {"application/x-ndjson": "ndjson", "text/csv": "csv"}
PAGES_KEY = web.AppKey("badge_pages", PublicPages)
T = TypeVar("T")


class _RawItems(msgspec.Struct, forbid_unknown_fields=True):
    items: list[msgspec.Raw]


class _Items(msgspec.Struct, forbid_unknown_fields=True):
    items: list[VerificationItem]


_ITEM = msgspec.json.Decoder(VerificationItem)
_ITEMS = msgspec.json.Decoder(list[VerificationItem])
# Also says whether the documents are plain JSON, whose JCS needs no pre-walk.
_WHOLE = PlainJsonDecoder(_Items)
_DOCUMENT_FIELD = b'"credential"'
DECODE_SLICE = 1000
# A body this small (10,000 ids are 0.6 MB, 1,000 credentials 1.5 MB) is
# decoded in one call: it holds about one slice of documents, and cutting it
# into items first would cost as long a wait again.
DECODE_WHOLE_BYTES = 2 << 20


async def decode_items(raw: bytes, step: CpuStep | None = None) -> tuple[list[Entry], bool]:
    """Each item decoded on its own, so a malformed one fails only itself;
    and whether the items are plain JSON (jcs.PlainJsonDecoder), which only
    the one-call decoding of a small body finds out.

    The whole body goes through the untrusted-input checks first (UTF-8,
    NUL, depth; UTF-8 separately, as msgspec does not look inside the strings
    of a Raw item): after them no item can raise anything but a validation
    error. Items are decoded DECODE_SLICE at a time (one decoder call for a
    slice of valid ones), yielding to the event loop whenever this `step`
    of the task has used its CPU quantum: a 10,000-item body then delays a
    concurrent small request by a quantum, not by its whole decoding. A small body is first tried whole, in one call:
    only if some item is not valid does it take the item by item path."""
    if not raw:
        raise bad_request("the request body is empty; send {\"items\": [...]}")
    untrusted.text(raw, "body")
    if len(raw) <= DECODE_WHOLE_BYTES:
        untrusted.refuse_json_hazards(raw, "body")
        try:
            whole = _without_gc(_WHOLE.decode, raw)
            # Only documents are canonicalized: a body of ids need not be looked at again.
            return whole.items, _DOCUMENT_FIELD in raw and _WHOLE.plain(raw)  # type: ignore[return-value]
        except msgspec.DecodeError:  # a ValidationError too: some item is not valid, or no JSON at all
            pass
    pieces = untrusted.decode_json(raw, _RawItems).items
    step = CpuStep() if step is None else step
    entries: list[Entry] = []
    for start in range(0, len(pieces), DECODE_SLICE):
        await step.yield_if_spent(QUANTUM)
        entries += _decode_slice(pieces[start:start + DECODE_SLICE])
    return entries, False


def _without_gc(decode: Callable[[bytes], T], raw: bytes) -> T:
    """`decode(raw)` with the cycle collector paused. Decoded JSON is made of
    fresh containers that cannot form cycles, yet every 700 of them start a
    collection that rescans the young ones: measured, that more than doubles
    the decoding of 1,000 credentials. The collector resumes right after."""
    if not gc.isenabled():
        return decode(raw)
    gc.disable()
    try:
        return decode(raw)
    finally:
        gc.enable()


def _decode_slice(pieces: list[msgspec.Raw]) -> list[Entry]:
    try:
        return _without_gc(_ITEMS.decode, b"[" + b",".join(pieces) + b"]")  # type: ignore[return-value]
    except msgspec.ValidationError:
        return [_decode_item(item) for item in pieces]


def _decode_item(raw: msgspec.Raw) -> Entry:
    try:
        return _ITEM.decode(raw)
    except msgspec.ValidationError as exc:
        return item_problem(f"the item is not valid: {exc}")


def _record(request: web.Request, outcome: BatchOutcome) -> None:
    record_verdicts(request.app[ITEMS_COUNTER_KEY], outcome.counts)


async def verify_items(request: web.Request) -> web.Response:
    check_content_type(request)
    body = await read_limited(request, request.app[SETTINGS_KEY].max_bulk_body_bytes)
    step = CpuStep()  # this step of the task began with the body's last read
    verifier = request.app[VERIFIER_KEY]
    # A body of nothing but canonical ids, the commonest large one, is read without the JSON decoder.
    if (ids := id_body(body)) is not None:
        _check_count(len(ids[0]))
        position = verifier.model.position
        outcome = await verifier.run_ids_sliced(*ids, step=step)
    else:
        items, plain = await decode_items(body, step)
        _check_count(len(items))
        position = verifier.model.position
        outcome = await verifier.run_sliced(items, plain=plain, step=step)
    _record(request, outcome)
    head = b'{"as_of_position":%d,"checked_at":"%s","counts":%b,"results":[' % (
        position, format_time(dt.datetime.now(dt.UTC)).encode(), msgspec.json.encode(outcome.counts))
    return await _send_in_pieces(request, head, outcome.answers, b"]}", step)


def _check_count(count: int) -> None:
    if count > MAX_ITEMS:
        raise Problem(413, "too-many-items", "Too many items",
                      f"a request holds at most {MAX_ITEMS:,} items, this one {count:,}; "
                      "use /v1/verification-jobs for larger pools")


async def _send_in_pieces(request: web.Request, head: bytes, answers: list[bytes], tail: bytes,
                          step: CpuStep) -> web.StreamResponse:
    """Send a large answer in pieces, waiting for each to drain. Handed over
    whole, megabytes would sit in the transport's buffer, which (Python 3.11)
    is compacted with a memmove after every socket send: CPU that every other
    request on this event loop waits for. It also saves joining it whole.
    An answer of a few pieces goes in one write: what it would wait for
    between pieces, behind other requests, costs more than its memmoves.
    Loopback and fast clients take megabytes without a drain, so a write
    need not yield: the pieces also yield once the `step` has used its CPU
    quantum, and a 7 MB answer does not hold the loop for its whole sending."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    size = len(head) + sum(map(len, answers)) + max(len(answers) - 1, 0) + len(tail)
    response.content_length = size
    await response.prepare(request)
    if size <= WHOLE_ANSWER:
        await response.write(b"".join((head, b",".join(answers), tail)))
        await response.write_eof()
        return response
    # Pieces of about WRITE_PIECE bytes by the answers' mean size: no Python step per answer.
    count = len(answers)
    starts = range(0, count, max(1, count * WRITE_PIECE // size))
    lead = head
    for start, end in pairwise(starts):
        await response.write(_piece(lead, answers, start, end))
        lead = b","
        await step.yield_if_spent(QUANTUM)
    await response.write(_piece(lead, answers, starts[-1], count) + tail)
    await response.write_eof()
    return response


def _piece(lead: bytes, answers: list[bytes], start: int, end: int) -> bytes:
    """`lead` and answers[start:end], comma-separated, in one join (no copy per answer)."""
    if start == end:
        return lead  # no answers at all: the head
    chosen = answers[start:end]
    chosen[0] = lead + chosen[0]
    return b",".join(chosen)


def _verify_one(request: web.Request) -> bytes:
    credential_id = request.match_info["credential_id"]
    if credential_id not in request.app[MODEL_KEY].credentials and (malformed := id_problem(credential_id)):
        raise bad_request(malformed)
    return _verify_one_known(request, credential_id)


def _verify_one_known(request: web.Request, credential_id: str) -> bytes:
    outcome = request.app[VERIFIER_KEY].run([VerificationItem(id=credential_id)])
    _record(request, outcome)
    return outcome.answers[0]


async def credential_verification(request: web.Request) -> web.Response:
    credential_id = request.match_info["credential_id"]
    if credential_id in request.app[MODEL_KEY].credentials and \
            not (await sharing.access(request.app[POOL_KEY], credential_id, None)).visible:
        body = _as_unknown(request, credential_id)
    else:
        body = _verify_one(request)
    return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-store"})


def _as_unknown(request: web.Request, credential_id: str) -> bytes:
    """A private credential's public answer: byte for byte the answer for an
    id never issued (asked for a fresh one, then given this id back, which
    has the same length), so it tells nothing about the credential."""
    stand_in = new_credential_id()
    answer = _verify_one_known(request, stand_in)
    return answer.replace(msgspec.json.encode(stand_in), msgspec.json.encode(credential_id))


async def verify_home(request: web.Request) -> web.Response:
    """Where the badge pages' header leads: a form that opens a credential's page."""
    wanted = request.query.get("id", "").strip()
    if not wanted:
        return request.app[PAGES_KEY].response("verify_home.html", {"error": ""}, cache="public, max-age=300")
    credential_id = unquote(wanted.split("/verify/", 1)[1].split("/", 1)[0]) if "/verify/" in wanted else wanted
    if id_problem(credential_id):
        return request.app[PAGES_KEY].response("verify_home.html", {
            "error": "That is not a credential id: ids look like urn:uuid:, then 36 letters and digits."},
            status=400)
    raise web.HTTPSeeOther(f"/verify/{quote(credential_id, safe=':')}")


async def verification_page(request: web.Request) -> web.Response:
    return await _page_if_visible(request, None)


async def shared_page(request: web.Request) -> web.Response:
    """The badge page through the holder's share link: grade and evidence too."""
    return await _page_if_visible(request, request.match_info["share_token"])


async def _page_if_visible(request: web.Request, share_token: str | None) -> web.Response:
    credential_id = request.match_info["credential_id"]
    record = request.app[MODEL_KEY].credentials.get(credential_id)
    if record is None:
        return _not_found(request, credential_id)
    seen = await sharing.access(request.app[POOL_KEY], credential_id, share_token)
    if not seen.visible:
        # A private credential answers as if it did not exist; a share link says why it stopped working.
        return _not_found(request, credential_id, seen.reason if share_token else "")
    return await _badge_page(request, credential_id, record, shared=seen.via_share)


def _not_found(request: web.Request, credential_id: str = "", reason: str = "") -> web.Response:
    return request.app[PAGES_KEY].response("badge_not_found.html", {"credential_id": credential_id,
                                                                    "reason": reason}, status=404)


async def _badge_page(request: web.Request, credential_id: str, record: CredentialRecord, *,
                      shared: bool) -> web.Response:
    model = request.app[MODEL_KEY]
    result = msgspec.json.decode(_verify_one_known(request, credential_id))
    data = await badge.load_page(request.app[POOL_KEY], model, credential_id, record, result, shared=shared)
    context = page_context(data, request.app[SETTINGS_KEY].public_base_url, request.path, private=shared)
    return request.app[PAGES_KEY].response("badge.html", context)


async def page_asset(request: web.Request) -> web.Response:
    return await request.app[PAGES_KEY].static_file(request)


async def shared_badge_png(request: web.Request) -> web.Response:
    return await badge_png(request)


async def badge_png(request: web.Request) -> web.Response:
    """The badge image, as visible as the page it belongs to."""
    model = request.app[MODEL_KEY]
    credential_id = request.match_info["credential_id"]
    record = model.credentials.get(credential_id)
    seen = record is not None and (await sharing.access(
        request.app[POOL_KEY], credential_id, request.match_info.get("share_token"))).visible
    if not seen:
        raise not_found("no credential with this id was issued through this ledger")
    body, media_type = badge_image(model, record)
    return web.Response(body=body, content_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


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
