"""Issuing a pathway's award: claimed by hand or by the automatic stacker.

The award is signed with the pathway issuer's hosted key and lists the
components as evidence. The platform never keeps an identity, so the award
cannot hash it with a salt of its own: it repeats the IdentityObject of one
component (the pathway issuer's own, when there is one), which links the
award to nothing its evidence does not already name. `StackClaimed` and
its `CredentialIssued` are one ledger append; the stack id is derived from
pathway, learner key and round (a new round opens only once every earlier
award of the pathway to that learner was revoked), and the stack row and
the stack stream (expected to be new) both refuse a second award, so a
manual claim racing an automatic one awards once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from services.issuance import redemptions, store
from services.issuance.component_checks import verify_components
from services.issuance.context import IssuanceContext
from services.issuance.document import component_evidence
from services.issuance.eligibility import authorise
from services.issuance.learners import Learner
from services.issuance.schemas import StackRequest
from services.issuance.signing import Draft, SigningJob, allocate_entries, issued_encoded
from services.issuance.stacking import (
    Evaluation,
    assess,
    credit_pool,
    evaluate,
    rule_achievements,
    stack_id_for,
)
from services.issuance.store import CredentialRow
from shared.auth import token_hash
from shared.credential_format import new_credential_id, required_credential_id, verification_method
from shared.events.credentials import Admission, StackClaimed, credential_stream, stack_stream
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid, Malformed, NotFound, Refusal
from shared.registry_state import Pathway
from shared.timeutil import format_time, now

log = logging.getLogger(__name__)


class StackExists(Exception):
    def __init__(self, stack_id: str) -> None:
        super().__init__(f"stack {stack_id} was already claimed")
        self.stack_id = stack_id


@dataclass(frozen=True, slots=True)
class Award:
    stack_id: str
    credential_id: str
    component_ids: list[str]
    positions: list[int]


def approved_pathway(ctx: IssuanceContext, pathway_id: str) -> Pathway:
    pathway = ctx.state.pathways.get(pathway_id)
    if pathway is None:
        raise NotFound(f"there is no pathway {pathway_id!r}")
    if pathway.status != "approved":
        raise Conflict(f"pathway {pathway_id!r} is {pathway.status}; only approved pathways award")
    return pathway


def check_components(
    ctx: IssuanceContext, pathway: Pathway, component_ids: list[str], rows: dict[str, CredentialRow],
    moment: dt.datetime,
) -> Evaluation:
    """The named components, each checked, against the pathway rule."""
    unknown = [cid for cid in component_ids if cid not in rows]
    if unknown:
        raise NotFound(f"no credential {', '.join(unknown)}")
    learners = {rows[cid].learner_key for cid in component_ids}
    if len(learners) != 1:
        raise Invalid("every component of a stack must be issued to the same learner",
                      code="components-of-different-learners", title="The components belong to different learners")
    counted = rule_achievements(pathway.event.rule)
    for cid in component_ids:
        row = rows[cid]
        reason, admitted = assess(row, pathway, ctx.state, moment)
        if reason is None and counted is not None and row.achievement_id not in counted and admitted is None:
            reason = f"achievement {row.achievement_id} is not part of this pathway"
        if reason is not None:
            raise Invalid(f"credential {cid} cannot count towards {pathway.event.pathway_id}: {reason}",
                          code="component-not-eligible", title="A component cannot count")
    evaluation = evaluate(pathway, [rows[cid] for cid in component_ids], ctx.state, moment)
    if not evaluation.satisfied:
        raise Invalid(f"{pathway.event.pathway_id}: {evaluation.shortfall()}",
                      code="pathway-rule-not-met", title="The components do not meet the pathway rule")
    return evaluation


async def award(
    ctx: IssuanceContext, conn: asyncpg.Connection, evaluation: Evaluation, metadata: Metadata,
    moment: dt.datetime, *, automatic: bool,
) -> Award:
    """Issue the award inside the caller's transaction; StackExists if it was."""
    pathway = evaluation.pathway.event
    component_rows = list(evaluation.held.values())
    named = _identity_source(component_rows, pathway.issuer_id)
    learner = Learner(named.identity_type, named.identity_salt, named.learner_hash, named.learner_key)
    stack_id = await stack_id_to_claim(conn, pathway.pathway_id, learner.learner_key)
    credential_id = new_credential_id()
    component_ids = sorted(row.credential_id for row in component_rows)
    if not await store.claim_stack(conn, store.StackRow(stack_id, pathway.pathway_id, learner.learner_hash,
                                                        learner.learner_key, credential_id, component_ids, automatic)):
        raise StackExists(stack_id)
    admissions = redemptions.admissions(evaluation)
    await redemptions.redeem(conn, evaluation, admissions, stack_id, credential_id)
    grant = authorise(ctx.state, pathway.issuer_id, pathway.award_achievement_id, moment)
    assert grant.key is not None
    spec = grant.achievement.spec
    valid_until = moment + dt.timedelta(days=spec.validity_days) if spec.validity_days else None
    status = await allocate_entries(conn, pathway.issuer_id, 1)
    holder_token_hash = token_hash(ctx.secrets.holder_token(credential_id))
    job = SigningJob(
        await ctx.keyring.seed(pathway.issuer_id, grant.key.key_id),
        verification_method(grant.issuer.event.did, grant.key.key_id), format_time(moment),
        ctx.templates.of(grant.issuer, grant.achievement),
        ctx.public_base_url, pathway.issuer_id, pathway.award_achievement_id, grant.key.key_id,
        [Draft(credential_id, None, learner, format_time(moment), format_time(valid_until) if valid_until else None,
               holder_token_hash, evidence=tuple(_admitted_evidence(component_ids, admissions)))],
        pathway_id=pathway.pathway_id, components=component_ids,
    )
    [payload] = ctx.signer.sign_allocated(job, status)
    row = CredentialRow(
        credential_id=credential_id, issuer_id=pathway.issuer_id, issuer_reference=None,
        achievement_id=pathway.award_achievement_id, learner_hash=learner.learner_hash,
        learner_key=learner.learner_key, identity_type=learner.identity_type, identity_salt=learner.salt,
        holder_token_hash=holder_token_hash,
        key_id=grant.key.key_id, signing="hosted", pathway_id=pathway.pathway_id,
        valid_from=moment, valid_until=valid_until,
    )
    await store.claim_credentials(conn, [row])
    claimed = StackClaimed(stack_id=stack_id, pathway_id=pathway.pathway_id,
                           component_ids=component_ids, award_credential_id=credential_id, automatic=automatic,
                           admissions=admissions, credit_pool=credit_pool(evaluation.pathway))
    events = [NewEvent(stack_stream(stack_id), claimed),
              NewEvent(credential_stream(credential_id), issued_encoded(payload))]
    positions = await ctx.ledger.append_in(conn, events, metadata, {e.stream_id: NO_STREAM for e in events})
    ctx.metrics.credentials.labels("stack", "issued").inc()
    log.info("stack awarded", extra={"stack_id": stack_id, "pathway": pathway.pathway_id,
                                     "automatic": automatic, "positions": positions})
    return Award(stack_id, credential_id, component_ids, positions)


async def stack_id_to_claim(db: store.Executor, pathway_id: str, learner_key: str) -> str:
    """The stack a claim now would be: the award the learner holds (so the
    claim is refused), or the next round once every earlier award was revoked."""
    rounds = await store.stack_rounds(db, pathway_id, learner_key)
    held = [stack_id for stack_id, revoked in rounds if not revoked]
    return held[0] if held else stack_id_for(pathway_id, learner_key, len(rounds))


async def holds_award(db: store.Executor, pathway_id: str, learner_key: str) -> bool:
    return any(not revoked for _, revoked in await store.stack_rounds(db, pathway_id, learner_key))


def _admitted_evidence(component_ids: list[str], admissions: list[Admission]) -> list[dict[str, object]]:
    """Each component as evidence; one of another issuer says which recognition agreement admitted it."""
    agreements = {a.component_id: a.agreement_id for a in admissions if a.agreement_id}
    evidence = component_evidence(component_ids)
    for item in evidence:
        if item["id"] in agreements:
            item["narrative"] = f"Recognised under agreement {agreements[item['id']]}"
    return evidence


def _identity_source(rows: list[CredentialRow], issuer_id: str) -> CredentialRow:
    own = [row for row in rows if row.issuer_id == issuer_id]
    return max(own or rows, key=lambda row: (row.valid_from, row.credential_id))


async def claim(
    ctx: IssuanceContext, pathway: Pathway, evaluation: Evaluation, metadata: Metadata, moment: dt.datetime,
) -> Award:
    """A claim by hand, in its own transaction."""
    try:
        async with ctx.pool.acquire() as conn, conn.transaction():
            return await award(ctx, conn, evaluation, metadata, moment, automatic=False)
    except StackExists as exists:
        raise Conflict(f"this learner already holds the award of {pathway.event.pathway_id}"
                       f" (stack {exists.stack_id})", extra={"stack_id": exists.stack_id}) from None


def require_pathway_issuer(pathway: Pathway, issuer_id: str | None) -> None:
    """Of the issuers, only the pathway's own may claim its awards."""
    if issuer_id != pathway.event.issuer_id:
        raise Forbidden(f"only {pathway.event.issuer_id}, whose pathway this is, or the learner may claim its award")


# Decides who claims, from the pathway and the named components (raises if no one may).
Claimant = Callable[[Pathway, dict[str, CredentialRow]], Awaitable[Metadata]]


async def claim_named(ctx: IssuanceContext, request: StackRequest, claimant: Claimant) -> Award:
    """A claim of a pathway's award for the components `request` names."""
    moment = now().replace(microsecond=0)
    pathway = approved_pathway(ctx, request.pathway_id)
    component_ids = [required_credential_id(cid) for cid in request.component_ids]
    if len(set(component_ids)) != len(component_ids):
        raise Malformed("a component is named twice")
    rows = await store.credentials_by_id(ctx.pool, component_ids)
    metadata = await claimant(pathway, rows)
    evaluation = check_components(ctx, pathway, component_ids, rows, moment)
    # Redemption is checked in the award's transaction (redemptions.redeem), after the stack.
    await verify_components(ctx, list(evaluation.held.values()), moment)
    return await claim(ctx, pathway, evaluation, metadata, moment)


async def try_auto_award(
    ctx: IssuanceContext, conn: asyncpg.Connection, pathway: Pathway, learner_key: str, moment: dt.datetime,
) -> Award | None:
    """Award if the learner now meets the rule and holds no award yet.

    Runs in the lifecycle projection's transaction, inside a savepoint: a
    claim that fails (a concurrent manual claim, a registry check) undoes
    only itself, and the projection moves on.
    """
    if await holds_award(conn, pathway.event.pathway_id, learner_key):
        return None
    rows = await store.credentials_of_learner(conn, learner_key)
    taken = await redemptions.redeemed(conn, credit_pool(pathway), [row.credential_id for row in rows])
    evaluation = evaluate(pathway, rows, ctx.state, moment, taken)
    if not evaluation.satisfied:
        return None
    metadata = Metadata(actor="issuance.auto-stacking", tenant=pathway.event.issuer_id)
    try:
        async with conn.transaction():
            return await award(ctx, conn, evaluation, metadata, moment, automatic=True)
    except StackExists:
        return None
    except Refusal as refusal:
        log.warning("automatic award refused", extra={"pathway": pathway.event.pathway_id,
                                                     "reason": refusal.detail})
        return None
