"""HTTP handlers for issuing and fetching credentials."""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from services.issuance import exports, store
from services.issuance.claiming import IdempotencyRace, IdempotencyRecord
from services.issuance.context import CONTEXT_KEY, IssuanceContext
from services.issuance.freshness import decided_current
from services.issuance.issuer_signed import record_issuer_signed
from services.issuance.issuing import issue_hosted, with_positions
from services.issuance.schemas import (
    MAX_BATCH,
    BatchRequest,
    BatchResponse,
    CredentialRequest,
    IssuedCredential,
    ItemAnswer,
    ItemOutcome,
    LearnerHash,
    LearnerHashRequest,
    SignedCredentialRequest,
)
from services.issuance.store import CredentialRow
from shared.auth import token_matches
from shared.credential_format import JWT_MEDIA_TYPE, VC_MEDIA_TYPE, required_credential_id, verification_method
from shared.crypto.jws import encode_vc_jws
from shared.http.body import json_response
from shared.http.endpoints import optional_principal, principal_of, request_metadata
from shared.http.problem import Problem, bad_request, conflict, not_found, problem_of, unauthorized
from shared.idempotency import HEADER as IDEMPOTENCY_HEADER
from shared.idempotency import KeyReused, checked_key, fingerprint
from shared.timeutil import now

_OUTCOMES = msgspec.json.Decoder(list[ItemOutcome])


def context(request: web.Request) -> IssuanceContext:
    return request.app[CONTEXT_KEY]


def _idempotency(request: web.Request, body: msgspec.Struct) -> IdempotencyRecord | None:
    key = checked_key(request.headers.get(IDEMPOTENCY_HEADER))
    if key is None:
        return None
    # The request as decoded, so the same body sent with other whitespace or
    # key order is the same request.
    return IdempotencyRecord(principal_of(request).client_id, key,
                             fingerprint(request.method, request.path, msgspec.json.encode(body)))


async def _replay(ctx: IssuanceContext, record: IdempotencyRecord) -> list[ItemOutcome] | None:
    stored = await store.idempotent_response(ctx.pool, record.client_id, record.key)
    if stored is None:
        return None
    if stored.fingerprint != record.fingerprint:
        raise KeyReused(record.key)
    outcomes = dict(enumerate(_OUTCOMES.decode(stored.outcomes)))
    await with_positions(ctx.pool, outcomes)
    return list(outcomes.values())


async def _issue(
    request: web.Request, items: list[CredentialRequest], body: msgspec.Struct,
) -> tuple[list[ItemOutcome], bool]:
    """The outcomes, and whether they are a replay of an earlier request."""
    ctx = context(request)
    record = _idempotency(request, body)
    if record is not None and (replayed := await _replay(ctx, record)) is not None:
        return replayed, True
    try:
        return await issue_hosted(ctx, request_metadata(request), items, record), False
    except IdempotencyRace:
        assert record is not None
        return await _replay(ctx, record) or [], True


def _answers(ctx: IssuanceContext, outcomes: list[ItemOutcome]) -> list[ItemAnswer]:
    return [_answer(ctx, outcome) for outcome in outcomes]


def _answer(ctx: IssuanceContext, outcome: ItemOutcome) -> ItemAnswer:
    fields = msgspec.structs.asdict(outcome)
    refusal = fields.pop("refusal")
    if refusal is not None:
        fields["problem"] = problem_of(refusal).to_document()
    if outcome.credential_id:
        # Tokens are derived, never stored: a replay hands out the same links.
        fields["holder_token"] = ctx.secrets.holder_token(outcome.credential_id)
    return ItemAnswer(**fields)


def _replay_headers(replayed: bool) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if replayed else {}


async def issue_credential(request: web.Request, body: CredentialRequest) -> web.Response:
    outcomes, replayed = await _issue(request, [body], body)
    [outcome] = outcomes
    if outcome.refusal is not None:
        raise problem_of(outcome.refusal)
    response = IssuedCredential(
        credential_id=outcome.credential_id or "", reference=outcome.reference, position=outcome.position or 0,
        learner_hash=outcome.learner_hash or "", learner_key=outcome.learner_key or "",
        holder_token=context(request).secrets.holder_token(outcome.credential_id or ""),
        existing=outcome.outcome == "existing",
    )
    headers = {"Location": f"/v1/credentials/{outcome.credential_id}", **_replay_headers(replayed)}
    return json_response(response, status=201 if outcome.outcome == "issued" else 200, headers=headers)


async def issue_batch(request: web.Request, body: BatchRequest) -> web.Response:
    if len(body.items) > MAX_BATCH:
        raise Problem(413, "batch-too-large", "The batch is too large",
                      f"a batch holds at most {MAX_BATCH:,} credentials; this one has {len(body.items):,}."
                      " Split it into several requests")
    if not body.items:
        raise bad_request("items is empty; send at least one credential")
    outcomes, replayed = await _issue(request, body.items, body)
    items = _answers(context(request), outcomes)
    counts = {kind: sum(1 for o in items if o.outcome == kind) for kind in ("issued", "existing", "rejected")}
    return json_response(BatchResponse(**counts, items=items), headers=_replay_headers(replayed))


async def submit_signed(request: web.Request, body: SignedCredentialRequest) -> web.Response:
    ctx = context(request)
    outcome = await decided_current(
        ctx, lambda: record_issuer_signed(ctx, request_metadata(request), body.reference, body.credential, body.learner))
    response = IssuedCredential(
        credential_id=outcome.credential_id or "", reference=outcome.reference, position=outcome.position or 0,
        learner_hash=outcome.learner_hash or "", learner_key=outcome.learner_key or "",
        holder_token=ctx.secrets.holder_token(outcome.credential_id or ""),
        existing=outcome.outcome == "existing",
    )
    return json_response(response, status=201 if outcome.outcome == "issued" else 200,
                         headers={"Location": f"/v1/credentials/{outcome.credential_id}"})




async def _readable(request: web.Request, credential_id: str) -> CredentialRow:
    """The credential, if this caller is its issuer or holds its learner link."""
    token = request.query.get("token")
    principal = await optional_principal(request)
    if principal is None and token is None:
        raise unauthorized("send the issuer's API key, or the learner link token as ?token=")
    row = await store.credential(context(request).pool, credential_id)
    allowed = row is not None and (
        (token is not None and token_matches(token, row.holder_token_hash))
        or (principal is not None and principal.role == "issuer" and principal.tenant_id == row.issuer_id))
    if not allowed:
        # The same answer whether it does not exist or is someone else's.
        raise not_found(f"no credential {credential_id} is visible with these credentials")
    return row  # type: ignore[return-value]


async def get_credential(request: web.Request) -> web.Response:
    """Without `format`, the credential itself; with one, a download
    (json, jwt, or the badge image baked with the credential: png, svg)."""
    ctx = context(request)
    credential_id = required_credential_id(request.match_info["credential_id"])
    form = request.query.get("format")
    if form is not None and form not in exports.EXPORT_FORMATS:
        raise bad_request(f"format must be one of {', '.join(exports.EXPORT_FORMATS)}, not {form!r}")
    row = await _readable(request, credential_id)
    found = await store.issued_event(ctx.pool, credential_id)
    if found is None:
        raise not_found(f"credential {credential_id} is not in the ledger")
    document = bytes(found[1].document)
    if form is None:
        return web.Response(body=document, headers={"Content-Type": VC_MEDIA_TYPE})
    export = await _export(ctx, row, document, form)
    return web.Response(body=export.body, headers=export.headers())


async def _export(ctx: IssuanceContext, row: CredentialRow, document: bytes, form: str) -> exports.Export:
    achievement = ctx.state.achievements.get(row.achievement_id)
    name = exports.filename(achievement.spec.title if achievement else row.achievement_id, row.credential_id, form)
    if form == "json":
        return exports.Export(document, VC_MEDIA_TYPE, name)
    if form == "jwt":
        return exports.Export((await _as_jws(ctx, row, document)).encode(), JWT_MEDIA_TYPE, name)
    if achievement is None:
        raise conflict(f"achievement {row.achievement_id} is not known here yet; retry shortly")
    # The credential as issued, byte for byte: baking never re-serialises it.
    # Drawing a PNG takes milliseconds: off the event loop.
    source = exports.badge_source(ctx.state, row.achievement_id, row.issuer_id)
    image = await asyncio.to_thread(exports.baked_image, source, form, document.decode())
    return exports.Export(image, exports.media_type_of(form), name)


async def _as_jws(ctx: IssuanceContext, row: CredentialRow, document: bytes) -> str:
    """VC-JOSE: the credential (without its Data Integrity proof) as a compact
    JWS, signed now with the issuer's current hosted key."""
    key = ctx.state.signing_key_at(row.issuer_id, now(), "hosted")
    issuer = ctx.state.issuers.get(row.issuer_id)
    if key is None or issuer is None:
        raise conflict(f"{row.issuer_id} has no hosted key valid now to sign a JWT with;"
                       " the credential is available as JSON with its own proof")
    credential = {k: v for k, v in msgspec.json.decode(document).items() if k != "proof"}
    private_key = await ctx.keyring.private_key(row.issuer_id, key.key_id)
    return encode_vc_jws(credential, private_key, verification_method(issuer.event.did, key.key_id))


async def learner_hash(request: web.Request, body: LearnerHashRequest) -> web.Response:
    learner = context(request).secrets.learner(body.learner)
    return json_response(LearnerHash(identity_type=learner.identity_type, salt=learner.salt,
                                     learner_hash=learner.learner_hash, learner_key=learner.learner_key))
