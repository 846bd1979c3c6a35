"""HTTP handlers of the revocation service: parsing, access and responses.

The decisions live in status_changes.py, history.py and status_lists.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from aiohttp import web

from services.revocation import idempotency
from services.revocation.access import may_manage
from services.revocation.history import status_history
from services.revocation.refusals import refusal_of, require_reasons
from services.revocation.runtime import CHANGER_KEY, METRICS_KEY, PUBLISHER_KEY, REGISTRY_KEY
from services.revocation.schemas import (
    BatchItem,
    BatchItemResult,
    BatchRequest,
    BatchResult,
    StatusChanged,
    StatusChangeRequest,
    StatusListEntry,
)
from services.revocation.status_changes import QUERIES, MayAct, Outcome, StatusChange
from services.revocation.status_lists import TTL_MS
from shared.auth import token_matches
from shared.credential_format import (
    VC_MEDIA_TYPE,
    not_a_credential_id,
    parse_credential_id,
    required_credential_id,
    status_list_url,
)
from shared.credential_status import Action
from shared.events import CATALOG
from shared.http.body import json_response
from shared.http.endpoints import optional_principal, principal_of, request_metadata
from shared.http.inputs import int_param
from shared.http.problem import (
    ItemProblem,
    Problem,
    not_found,
    unauthorized,
)
from shared.http.representation import html_page, prefers_html
from shared.idempotency import HEADER as IDEMPOTENCY_HEADER
from shared.idempotency import checked_key
from shared.idempotency import fingerprint as request_fingerprint
from shared.ledger.eventstore.store import Ledger
from shared.service import POOL_KEY, SETTINGS_KEY
from shared.statuslist import Bitstring

# -- status changes ---------------------------------------------------------

async def revoke(request: web.Request, body: StatusChangeRequest) -> web.Response:
    return await _change_one(request, "revoke", body)


async def suspend(request: web.Request, body: StatusChangeRequest) -> web.Response:
    return await _change_one(request, "suspend", body)


async def reinstate(request: web.Request, body: StatusChangeRequest) -> web.Response:
    return await _change_one(request, "reinstate", body)


async def _change_one(request: web.Request, action: Action, body: StatusChangeRequest) -> web.Response:
    credential_id = required_credential_id(request.match_info["id"])
    require_reasons([body.reason])
    change = StatusChange(credential_id, action, body.reason.strip(), body.reason_code)

    def changed(outcome: Outcome) -> bytes:
        assert outcome.previous_status and outcome.status and outcome.position
        return msgspec.json.encode(StatusChanged(
            credential_id=credential_id, action=action, previous_status=outcome.previous_status,
            status=outcome.status, position=outcome.position))

    async def work(claim: idempotency.Claim, save: idempotency.Save) -> tuple[int, bytes]:
        async def respond(conn, outcomes: list[Outcome]) -> None:
            await save(conn, 200, changed(outcomes[0]))

        [outcome] = await request.app[CHANGER_KEY].apply_grouped(
            [change], request_metadata(request), _may_act(request), stage=claim, settle=respond)
        _count(request, [outcome])
        if not outcome.applied:
            raise refusal_of(outcome)
        return 200, changed(outcome)

    return await _idempotently(request, msgspec.json.encode(body), work, [credential_id], grouped=True)


async def batch(request: web.Request, body: BatchRequest) -> web.Response:
    require_reasons([item.reason for item in body.items])
    ids = [parse_credential_id(item.credential_id) for item in body.items]
    changes = [StatusChange(cid, item.action, item.reason.strip(), item.reason_code)
               for cid, item in zip(ids, body.items, strict=True) if cid is not None]

    async def work(conn) -> tuple[int, bytes]:
        outcomes = await request.app[CHANGER_KEY].apply(conn, changes, request_metadata(request), _may_act(request))
        _count(request, outcomes)
        return 200, msgspec.json.encode(_batch_result(body.items, ids, outcomes))

    return await _idempotently(request, msgspec.json.encode(body), work, [cid for cid in ids if cid is not None])


def _batch_result(items: Sequence[BatchItem], ids: Sequence[str | None], outcomes: Sequence[Outcome]) -> BatchResult:
    pending = iter(outcomes)
    results = [
        _malformed_item(index, item) if cid is None else _item_result(index, item, next(pending))
        for index, (item, cid) in enumerate(zip(items, ids, strict=True))
    ]
    positions = [r.position for r in results if r.position is not None]
    return BatchResult(applied=len(positions), rejected=len(results) - len(positions), positions=positions,
                       results=results)


def _item_result(index: int, item: BatchItem, outcome: Outcome) -> BatchItemResult:
    common = dict(index=index, credential_id=outcome.change.credential_id, action=item.action,
                  previous_status=outcome.previous_status, status=outcome.status)
    if outcome.applied:
        return BatchItemResult(outcome="applied", position=outcome.position, **common)
    return BatchItemResult(outcome="rejected", problem=ItemProblem.of(refusal_of(outcome)), **common)


def _malformed_item(index: int, item: BatchItem) -> BatchItemResult:
    return BatchItemResult(index=index, credential_id=item.credential_id, action=item.action, outcome="rejected",
                           problem=ItemProblem.of(not_a_credential_id(item.credential_id)))


def _count(request: web.Request, outcomes: Sequence[Outcome]) -> None:
    metrics = request.app[METRICS_KEY]
    for outcome in outcomes:
        if outcome.applied:
            metrics.status_changes.labels(outcome.change.action, "manual").inc()
        else:
            metrics.rejections.labels(outcome.change.action, outcome.rejection).inc()


async def _idempotently(
    request: web.Request, canonical_body: bytes, work: idempotency.Work | idempotency.GroupedWork,
    credential_ids: list[str], grouped: bool = False,
) -> web.Response:
    key = checked_key(request.headers.get(IDEMPOTENCY_HEADER))
    fingerprint = request_fingerprint(request.method, request.path, canonical_body)
    run = idempotency.run_once_grouped if grouped else idempotency.run_once
    response = await run(request.app[POOL_KEY], principal_of(request).client_id, key, fingerprint, work)
    # Committed and written through: the changed lists are published before
    # the change is acknowledged (status_lists.py).
    await request.app[PUBLISHER_KEY].publish_lists_of(credential_ids)
    request.app[PUBLISHER_KEY].wake.set()  # for any list that could not be published just now
    headers = {"Idempotent-Replayed": "true"} if response.replayed else None
    return web.Response(status=response.status, body=response.body, content_type="application/json",
                        headers=headers)


def _may_act(request: web.Request) -> MayAct:
    return may_manage(principal_of(request), request.app[REGISTRY_KEY].state)


# -- status history ---------------------------------------------------------

async def credential_status_history(request: web.Request) -> web.Response:
    """For the issuer, its accrediting agencies and their parents (API key),
    or the holder (?token=, the learner link): the reasons are theirs to read."""
    credential_id = required_credential_id(request.match_info["id"])
    token = request.query.get("token")
    principal = await optional_principal(request)
    if principal is None and token is None:
        raise unauthorized("send the API key of the issuer or an accrediting agency, or the learner link as ?token=")
    found = await status_history(Ledger(request.app[POOL_KEY], CATALOG), credential_id)
    entitled = found is not None and (
        (token is not None and bool(found.holder_token_hash) and token_matches(token, found.holder_token_hash))
        or (principal is not None and may_manage(principal, request.app[REGISTRY_KEY].state)(
            found.history.issuer_id)))
    if not entitled:
        raise not_found(f"there is no credential {credential_id} that this client may see")
    return json_response(found.history)  # type: ignore[union-attr]


# -- published status lists ------------------------------------------------

async def status_list(request: web.Request) -> web.Response:
    list_id = request.match_info["list_id"]
    row = await _publication(request, list_id)
    headers = {
        "ETag": row["etag"],
        "Cache-Control": f"public, max-age={TTL_MS // 1000}",
        # Verifiers run in browsers too; the list is public by design.
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag",
    }
    if prefers_html(request):
        return _status_list_page(request, list_id, row)
    headers["Vary"] = "Accept"
    if _matches(request.headers.get("If-None-Match"), row["etag"]):
        return web.Response(status=304, headers=headers)
    # Requests asking for the older application/vc+ld+json get this too:
    # the body is the same credential, only the registered name changed.
    return web.Response(body=bytes(row["document"]), headers={**headers, "Content-Type": VC_MEDIA_TYPE})


def _status_list_page(request: web.Request, list_id: str, row) -> web.Response:
    document = msgspec.json.decode(bytes(row["document"]))
    url = status_list_url(request.app[SETTINGS_KEY].public_base_url, list_id)
    issuer = document.get("issuer")
    facts = [
        ("Purpose", str(row["purpose"])), ("Entries", str(row["size"])),
        ("Issuer", str(issuer.get("id") if isinstance(issuer, dict) else issuer)),
        ("Valid from", str(document.get("validFrom", "-"))), ("Valid until", str(document.get("validUntil", "-"))),
    ]
    return html_page("Bitstring status list", f"Status list {list_id}", facts, url, VC_MEDIA_TYPE)


async def status_list_entry(request: web.Request) -> web.Response:
    list_id = request.match_info["list_id"]
    index = int_param(request, "index", low=0)
    row = await _publication(request, list_id)
    if index >= row["size"]:
        raise not_found(f"status list {list_id} has indexes 0 to {row['size'] - 1}; {index} is outside it")
    document = msgspec.json.decode(bytes(row["document"]))
    bits = Bitstring.decode(document["credentialSubject"]["encodedList"])
    return json_response(StatusListEntry(
        list_id=list_id, status_list_credential=status_list_url(request.app[SETTINGS_KEY].public_base_url, list_id),
        purpose=row["purpose"], index=index, set=bits.get(index), valid_from=document["validFrom"]))


async def _publication(request: web.Request, list_id: str):
    row = await request.app[POOL_KEY].fetchrow(QUERIES["publication"], list_id)
    if row is not None and row["pending"]:
        # Changes acknowledged before this fetch are in what it serves.
        await request.app[PUBLISHER_KEY].current(list_id)
        row = await request.app[POOL_KEY].fetchrow(QUERIES["publication"], list_id)
    if row is None:
        raise not_found(f"there is no status list {list_id!r}")
    if row["document"] is None:
        raise Problem(503, "status-list-pending", "Status list not published yet",
                      f"status list {list_id} is being generated; retry in a second",
                      headers={"Retry-After": "1"})
    return row


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
