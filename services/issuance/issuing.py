"""Hosted issuance: check, allocate status entries, sign, record.

One request (one credential or a batch of up to 10,000) goes through three
stages, each timed in `issuance_stage_seconds`:

1. screen: every item is checked on its own against the registry state
   (cached per achievement); a failing item becomes a rejected outcome and
   never stops the others;
2. sign: per achievement template, in the signing processes when large:
   each part allocates its status list entries in a short transaction of
   its own (so concurrent batches of one issuer never hold a list's row
   lock while they sign), then signs and encodes (see signing.py);
3. persist: one transaction claims the issuer references in the issuance
   table (a reference a concurrent request claimed first is reported as
   existing, never issued twice), appends every CredentialIssued event in a
   single ledger append, and stores the idempotent response.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

import msgspec

from services.issuance import store
from services.issuance.claiming import Claim, IdempotencyRecord, existing_or_conflict, issued_outcome, rejected
from services.issuance.context import IssuanceContext
from services.issuance.document import evidence_objects
from services.issuance.eligibility import Grant, authorise
from services.issuance.freshness import applied_position, refusals_stand
from services.issuance.learners import Learner
from services.issuance.schemas import CredentialRequest, ItemOutcome
from services.issuance.signing import INLINE_LIMIT, Draft, SigningJob, issued_encoded
from services.issuance.store import CredentialRow
from shared.auth import token_hash
from shared.credential_format import new_credential_id, verification_method
from shared.events.credentials import credential_stream
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Invalid, Refusal
from shared.timeutil import UTC, format_time, now, parse_time

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Candidate:
    index: int
    request: CredentialRequest
    grant: Grant
    learner: Learner
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    credential_id: str
    holder_token_hash: str


async def issue_hosted(
    ctx: IssuanceContext, metadata: Metadata, requests: list[CredentialRequest],
    idempotency: IdempotencyRecord | None = None,
) -> list[ItemOutcome]:
    """Issue what can be issued; return one outcome per request, in order."""
    moment = now().replace(microsecond=0)
    issuer_id = metadata.tenant
    outcomes: dict[int, ItemOutcome] = {}
    with ctx.metrics.screen.time():
        decided_at = applied_position(ctx)
        candidates = screen(ctx, issuer_id, requests, moment, outcomes)
        if outcomes and not await refusals_stand(ctx, decided_at):
            outcomes.clear()
            candidates = screen(ctx, issuer_id, requests, moment, outcomes)
        candidates = await _skip_issued(ctx, issuer_id, candidates, outcomes)
    if candidates:
        with ctx.metrics.sign.time():
            signed = await _sign(ctx, issuer_id, candidates, moment)
        with ctx.metrics.persist.time():
            await _persist(ctx, metadata, candidates, signed, outcomes, idempotency)
    ordered = [outcomes[i] for i in range(len(requests))]
    _count(ctx, ordered)
    return ordered


def screen(
    ctx: IssuanceContext, issuer_id: str, requests: list[CredentialRequest], moment: dt.datetime,
    outcomes: dict[int, ItemOutcome],
) -> list[Candidate]:
    grants: dict[str, Grant | Refusal] = {}
    first_seen: dict[str, int] = {}
    candidates = []
    for index, request in enumerate(requests):
        try:
            if request.reference in first_seen:
                raise duplicate_reference(request.reference, first_seen[request.reference])
            first_seen[request.reference] = index
            grant = _grant(ctx, issuer_id, request.achievement_id, moment, grants)
            learner = ctx.secrets.learner(request.learner)
            valid_from, valid_until = validity(request, grant, moment)
        except Refusal as refusal:
            outcomes[index] = rejected(index, request.reference, refusal)
            continue
        credential_id = new_credential_id()
        candidates.append(Candidate(index, request, grant, learner, valid_from, valid_until, credential_id,
                                    token_hash(ctx.secrets.holder_token(credential_id))))
    return candidates


def _grant(
    ctx: IssuanceContext, issuer_id: str, achievement_id: str, moment: dt.datetime,
    grants: dict[str, Grant | Refusal],
) -> Grant:
    if achievement_id not in grants:
        try:
            grants[achievement_id] = authorise(ctx.state, issuer_id, achievement_id, moment)
        except Refusal as refusal:
            grants[achievement_id] = refusal
    grant = grants[achievement_id]
    if isinstance(grant, Refusal):
        raise grant.again()
    return grant


def duplicate_reference(reference: str, first_index: int) -> Invalid:
    return Invalid(f"reference {reference!r} is already used by item {first_index}; each reference"
                   " identifies one credential",
                   code="duplicate-reference", title="The reference appears twice in this batch")


# Dates outside this range are typing errors, and near the ends of Python's
# calendar adding a validity period would overflow.
YEARS = range(1900, 2200)


def parse_moment(text: str, name: str) -> dt.datetime:
    """An RFC 3339 date (midnight UTC) or date-time with an offset."""
    try:
        if len(text) == 10:
            moment = dt.datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            moment = parse_time(text).replace(microsecond=0)
    except ValueError:
        raise Invalid(
            f"{name} {text!r} is not an RFC 3339 date (2026-06-30) or date-time with offset"
            " (2026-06-30T12:00:00Z)") from None
    if moment.year not in YEARS:
        raise Invalid(f"{name} {text!r} is not between {YEARS.start} and {YEARS.stop}")
    return moment


def validity(request: CredentialRequest, grant: Grant, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
    valid_from = parse_moment(request.issued_on, "issued_on") if request.issued_on else moment
    valid_until = parse_moment(request.valid_until, "valid_until") if request.valid_until else None
    days = grant.achievement.spec.validity_days
    if valid_until is None and days:
        valid_until = valid_from + dt.timedelta(days=days)
    if valid_until is not None and valid_until <= valid_from:
        raise Invalid(f"valid_until {format_time(valid_until)} is not after the issue date"
                                f" {format_time(valid_from)}")
    return valid_from, valid_until


async def _skip_issued(
    ctx: IssuanceContext, issuer_id: str, candidates: list[Candidate], outcomes: dict[int, ItemOutcome],
) -> list[Candidate]:
    """Answer retries from what was issued before, without signing anything.

    Only for requests signed in the signing processes: a small request
    signed inline would spend a round trip on every fresh request to save
    a millisecond of signing on a retry, whose claim (claiming.py) answers
    it as existing all the same (its unused status entry is a harmless gap).
    """
    if len(candidates) <= INLINE_LIMIT:
        return candidates
    taken = await store.references_taken(ctx.pool, issuer_id, [c.request.reference for c in candidates])
    if not taken:
        return candidates
    positions = await store.issued_positions(ctx.pool, [t.credential_id for t in taken.values()])
    fresh = []
    for candidate in candidates:
        previous = taken.get(candidate.request.reference)
        if previous is None:
            fresh.append(candidate)
        else:
            outcomes[candidate.index] = existing_or_conflict(
                candidate, previous, positions.get(previous.credential_id))
    return fresh


def draft(candidate: Candidate) -> Draft:
    request = candidate.request
    return Draft(
        credential_id=candidate.credential_id, reference=request.reference, learner=candidate.learner,
        valid_from=format_time(candidate.valid_from),
        valid_until=format_time(candidate.valid_until) if candidate.valid_until else None,
        holder_token_hash=candidate.holder_token_hash,
        grade=request.grade, evidence=tuple(evidence_objects(request.evidence)),
    )


async def _sign(
    ctx: IssuanceContext, issuer_id: str, candidates: list[Candidate], moment: dt.datetime,
) -> dict[str, bytes]:
    """The encoded CredentialIssued event of every candidate, by credential id."""
    by_achievement: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_achievement[candidate.request.achievement_id].append(candidate)
    grant = candidates[0].grant  # one issuer, one moment: the same hosted key for all
    assert grant.key is not None
    seed = await ctx.keyring.seed(issuer_id, grant.key.key_id)
    method = verification_method(grant.issuer.event.did, grant.key.key_id)
    jobs = [
        SigningJob(seed, method, format_time(moment),
                   ctx.templates.of(grant.issuer, group[0].grant.achievement),
                   ctx.public_base_url, issuer_id, achievement_id, grant.key.key_id,
                   [draft(c) for c in group])
        for achievement_id, group in by_achievement.items()
    ]
    # One job (every single-credential request) is awaited directly: gather
    # would wrap it in a task and send the request to the back of the loop's queue.
    results = [await ctx.signer.sign(jobs[0])] if len(jobs) == 1 else await asyncio.gather(
        *(ctx.signer.sign(job) for job in jobs))
    return {draft.credential_id: payload
            for job, payloads in zip(jobs, results, strict=True)
            for draft, payload in zip(job.drafts, payloads, strict=True)}


def credential_row(candidate: Candidate, key_id: str) -> CredentialRow:
    return CredentialRow(
        credential_id=candidate.credential_id, issuer_id=candidate.grant.issuer.issuer_id,
        issuer_reference=candidate.request.reference, achievement_id=candidate.request.achievement_id,
        learner_hash=candidate.learner.learner_hash, learner_key=candidate.learner.learner_key,
        identity_type=candidate.learner.identity_type,
        identity_salt=candidate.learner.salt, holder_token_hash=candidate.holder_token_hash,
        key_id=key_id, signing="hosted", pathway_id=None,
        valid_from=candidate.valid_from, valid_until=candidate.valid_until,
    )


async def _persist(
    ctx: IssuanceContext, metadata: Metadata, candidates: list[Candidate], signed: dict[str, bytes],
    outcomes: dict[int, ItemOutcome], idempotency: IdempotencyRecord | None,
) -> None:
    """Claim, record and answer in one transaction, through the ledger's group
    commit: the claims and the idempotent response are written before the
    append lock is taken (the stage, claiming.py), so the lock covers the append alone."""
    key_id = candidates[0].grant.key.key_id  # type: ignore[union-attr]
    events = {c.credential_id: NewEvent(credential_stream(c.credential_id), issued_encoded(signed[c.credential_id]))
              for c in candidates}
    claim = Claim(metadata.tenant, candidates, [credential_row(c, key_id) for c in candidates], events,
                  dict(outcomes), idempotency, ctx.contacts)
    positions = await ctx.ledger.append(list(events.values()), metadata,
                                        {e.stream_id: NO_STREAM for e in events.values()}, stage=claim)
    outcomes.update(claim.staged)
    winners = [c for c in candidates if outcomes[c.index].outcome == "issued"]
    for candidate, position in zip(winners, positions, strict=True):
        outcomes[candidate.index] = issued_outcome(candidate, position)
    await with_positions(ctx.pool, outcomes)
    log.info("credentials issued", extra={"issuer": metadata.tenant, "issued": len(winners),
                                          "raced": len(candidates) - len(winners), "request_id": metadata.request_id})


async def with_positions(db: store.Executor, outcomes: dict[int, ItemOutcome]) -> None:
    """Fill in the ledger position of outcomes recorded before it was known
    (stored responses, and credentials a request in the same group issued)."""
    missing = [o.credential_id for o in outcomes.values() if o.credential_id and o.position is None]
    if missing:
        positions = await store.issued_positions(db, missing)
        for index, outcome in outcomes.items():
            if outcome.credential_id in positions and outcome.position is None:
                outcomes[index] = msgspec.structs.replace(outcome, position=positions[outcome.credential_id])


def _count(ctx: IssuanceContext, outcomes: list[ItemOutcome]) -> None:
    tally: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        tally[outcome.outcome] += 1
    for name, count in tally.items():
        ctx.metrics.hosted[name].inc(count)
