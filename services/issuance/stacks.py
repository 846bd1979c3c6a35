"""Issuing a pathway's award: claimed by hand or by the automatic stacker.

The award is signed with the pathway issuer's hosted key, names the learner
with the components' IdentityObject (the same salted hash) and lists the
components as evidence. `StackClaimed` and its `CredentialIssued` are one
ledger append; the stack id is derived from pathway and learner, and the
stack row and the stack stream (expected to be new) both refuse a second
award, so a manual claim racing an automatic one awards once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import asyncpg

from services.issuance import store
from services.issuance.context import IssuanceContext
from services.issuance.document import component_evidence, template_for
from services.issuance.eligibility import authorise
from services.issuance.learners import Learner, token_hash
from services.issuance.signing import Draft, SigningJob, allocate_entries, issued_encoded
from services.issuance.stacking import Evaluation, evaluate, ineligibility, rule_achievements, stack_id_for
from services.issuance.store import CredentialRow
from shared.credential_format import new_credential_id, verification_method
from shared.events.credentials import StackClaimed, credential_stream
from shared.http.problem import Problem, conflict, not_found
from shared.ledger.events import Metadata
from shared.ledger.store import NO_STREAM, NewEvent
from shared.registry_state import Pathway
from shared.timeutil import format_time

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
        raise not_found(f"there is no pathway {pathway_id!r}")
    if pathway.status != "approved":
        raise conflict(f"pathway {pathway_id!r} is {pathway.status}; only approved pathways award")
    return pathway


def check_components(
    ctx: IssuanceContext, pathway: Pathway, component_ids: list[str], rows: dict[str, CredentialRow],
    moment: dt.datetime,
) -> Evaluation:
    """The named components, each checked, against the pathway rule."""
    unknown = [cid for cid in component_ids if cid not in rows]
    if unknown:
        raise not_found(f"no credential {', '.join(unknown)}")
    learners = {rows[cid].learner_hash for cid in component_ids}
    if len(learners) != 1:
        raise Problem(422, "components-of-different-learners", "The components belong to different learners",
                      "every component of a stack must be issued to the same learner")
    counted = rule_achievements(pathway.event.rule)
    for cid in component_ids:
        row = rows[cid]
        reason = ineligibility(row, pathway, ctx.state, moment)
        if reason is None and counted is not None and row.achievement_id not in counted:
            reason = f"achievement {row.achievement_id} is not part of this pathway"
        if reason is not None:
            raise Problem(422, "component-not-eligible", "A component cannot count",
                          f"credential {cid} cannot count towards {pathway.event.pathway_id}: {reason}")
    evaluation = evaluate(pathway, [rows[cid] for cid in component_ids], ctx.state, moment)
    if not evaluation.satisfied:
        raise Problem(422, "pathway-rule-not-met", "The components do not meet the pathway rule",
                      f"{pathway.event.pathway_id}: {evaluation.shortfall()}")
    return evaluation


async def award(
    ctx: IssuanceContext, conn: asyncpg.Connection, evaluation: Evaluation, metadata: Metadata,
    moment: dt.datetime, *, automatic: bool,
) -> Award:
    """Issue the award inside the caller's transaction; StackExists if it was."""
    pathway = evaluation.pathway.event
    component_rows = list(evaluation.held.values())
    learner = Learner(component_rows[0].identity_type, component_rows[0].identity_salt,
                      component_rows[0].learner_hash)
    stack_id = stack_id_for(pathway.pathway_id, learner.learner_hash)
    credential_id = new_credential_id()
    component_ids = sorted(row.credential_id for row in component_rows)
    if not await store.claim_stack(conn, stack_id, pathway.pathway_id, learner.learner_hash, credential_id,
                                   component_ids, automatic):
        raise StackExists(stack_id)
    grant = authorise(ctx.state, pathway.issuer_id, pathway.award_achievement_id, moment)
    assert grant.key is not None
    spec = grant.achievement.spec
    valid_until = moment + dt.timedelta(days=spec.validity_days) if spec.validity_days else None
    status = await allocate_entries(conn, pathway.issuer_id, 1)
    holder_token_hash = token_hash(ctx.secrets.holder_token(credential_id))
    job = SigningJob(
        await ctx.keyring.seed(pathway.issuer_id, grant.key.key_id),
        verification_method(grant.issuer.event.did, grant.key.key_id), format_time(moment),
        template_for(grant.issuer, grant.achievement, ctx.state.frameworks, ctx.public_base_url),
        ctx.public_base_url, pathway.issuer_id, pathway.award_achievement_id, grant.key.key_id,
        [Draft(credential_id, None, learner, format_time(moment), format_time(valid_until) if valid_until else None,
               holder_token_hash, evidence=tuple(component_evidence(component_ids)))],
        pathway_id=pathway.pathway_id, components=component_ids,
    )
    [payload] = ctx.signer.sign_allocated(job, status)
    row = CredentialRow(
        credential_id=credential_id, issuer_id=pathway.issuer_id, issuer_reference=None,
        achievement_id=pathway.award_achievement_id, learner_hash=learner.learner_hash,
        identity_type=learner.identity_type, identity_salt=learner.salt, holder_token_hash=holder_token_hash,
        key_id=grant.key.key_id, signing="hosted", pathway_id=pathway.pathway_id,
        valid_from=moment, valid_until=valid_until,
    )
    await store.claim_credentials(conn, [row])
    claimed = StackClaimed(stack_id=stack_id, pathway_id=pathway.pathway_id, learner_hash=learner.learner_hash,
                           component_ids=component_ids, award_credential_id=credential_id, automatic=automatic)
    events = [NewEvent(f"stack:{stack_id}", claimed),
              NewEvent(credential_stream(credential_id), issued_encoded(payload))]
    positions = await ctx.ledger.append_in(conn, events, metadata, {e.stream_id: NO_STREAM for e in events})
    ctx.metrics.credentials.labels("stack", "issued").inc()
    log.info("stack awarded", extra={"stack_id": stack_id, "pathway": pathway.pathway_id,
                                     "automatic": automatic, "positions": positions})
    return Award(stack_id, credential_id, component_ids, positions)


async def claim(
    ctx: IssuanceContext, pathway: Pathway, evaluation: Evaluation, metadata: Metadata, moment: dt.datetime,
) -> Award:
    """A claim by hand, in its own transaction."""
    try:
        async with ctx.pool.acquire() as conn, conn.transaction():
            return await award(ctx, conn, evaluation, metadata, moment, automatic=False)
    except StackExists as exists:
        raise conflict(f"this learner already holds the award of {pathway.event.pathway_id}"
                       f" (stack {exists.stack_id})", stack_id=exists.stack_id) from None


async def try_auto_award(
    ctx: IssuanceContext, conn: asyncpg.Connection, pathway: Pathway, learner_hash: str, moment: dt.datetime,
) -> Award | None:
    """Award if the learner now meets the rule and holds no award yet.

    Runs in the lifecycle projection's transaction, inside a savepoint: a
    claim that fails (a concurrent manual claim, a registry check) undoes
    only itself, and the projection moves on.
    """
    if await store.stack_exists(conn, stack_id_for(pathway.event.pathway_id, learner_hash)):
        return None
    evaluation = evaluate(pathway, await store.credentials_of_learner(conn, learner_hash), ctx.state, moment)
    if not evaluation.satisfied:
        return None
    metadata = Metadata(actor="issuance.auto-stacking", tenant=pathway.event.issuer_id)
    try:
        async with conn.transaction():
            return await award(ctx, conn, evaluation, metadata, moment, automatic=True)
    except StackExists:
        return None
    except Problem as problem:
        log.warning("automatic award refused", extra={"pathway": pathway.event.pathway_id,
                                                     "learner_hash": learner_hash, "reason": problem.detail})
        return None
