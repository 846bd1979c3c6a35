"""HTTP handlers for stacking: claiming an award, and a learner's pathways."""

from __future__ import annotations

from aiohttp import web

from services.issuance import redemptions, store
from services.issuance.context import IssuanceContext
from services.issuance.freshness import decided_current
from services.issuance.handlers import context
from services.issuance.learners import LEARNER_KEY
from services.issuance.schemas import ChoiceProgress, LearnerPathways, PathwayProgress, StackRequest, StackResponse
from services.issuance.stacking import Evaluation, credit_pool, evaluate
from services.issuance.stacks import claim_named, require_pathway_issuer
from services.issuance.store import CredentialRow
from shared.auth import Principal, token_matches
from shared.http.body import json_response
from shared.http.endpoints import optional_principal, principal_of, request_metadata
from shared.http.middleware import request_id_of
from shared.http.problem import bad_request, forbidden, not_found, unauthorized
from shared.ledger.eventstore.events import Metadata
from shared.registry_state import Pathway
from shared.timeutil import now


async def claim_stack(request: web.Request, body: StackRequest) -> web.Response:
    ctx = context(request)

    async def claimant(pathway: Pathway, rows: dict[str, CredentialRow]) -> Metadata:
        return await _claimant(request, body, pathway, rows)

    award = await decided_current(ctx, lambda: claim_named(ctx, body, claimant))
    return json_response(StackResponse(
        stack_id=award.stack_id, pathway_id=body.pathway_id, award_credential_id=award.credential_id,
        component_ids=award.component_ids, positions=award.positions,
        holder_token=ctx.secrets.holder_token(award.credential_id),
    ), status=201, headers={"Location": f"/v1/credentials/{award.credential_id}"})


async def _claimant(request: web.Request, body: StackRequest, pathway: Pathway,
                    rows: dict[str, CredentialRow]) -> Metadata:
    """Who claims: the pathway's issuer (API key) or the learner (a link token
    of one of the components). The award is always the pathway issuer's."""
    principal = await optional_principal(request)
    issuer_id = pathway.event.issuer_id
    if principal is not None:
        require_pathway_issuer(pathway, principal.tenant_id if principal.role == "issuer" else None)
        return request_metadata(request, principal, issuer_id)
    if body.holder_token is None:
        raise unauthorized("send the pathway issuer's API key, or holder_token: the learner link of a component")
    if not any(token_matches(body.holder_token, row.holder_token_hash) for row in rows.values()):
        raise forbidden("holder_token is not the learner link of any of the named components")
    return Metadata(actor="holder", tenant=issuer_id, request_id=request_id_of(request))


async def learner_pathways(request: web.Request) -> web.Response:
    """The calling issuer's approved pathways, as far as this learner got."""
    ctx = context(request)
    principal: Principal = principal_of(request)
    learner_key = request.match_info["learner_key"]
    if not LEARNER_KEY.match(learner_key):
        raise bad_request("the learner is named by the learner_key its credentials were issued with"
                          " ('lk$', a key id, '$' and 64 lowercase hex digits)")
    if not await store.issuer_knows_learner(ctx.pool, learner_key, principal.tenant_id):
        raise not_found(f"{principal.tenant_id} has issued no credential to this learner")
    rows = await store.credentials_of_learner(ctx.pool, learner_key)
    awarded = await store.stacks_of_learner(ctx.pool, learner_key)
    moment = now()
    pathways = [
        _progress(evaluate(pathway, rows, ctx.state, moment, await _redeemed_elsewhere(ctx, pathway, rows, awarded)),
                  awarded.get(pathway.event.pathway_id))
        for pathway in sorted(ctx.state.pathways.values(), key=lambda p: p.event.pathway_id)
        if pathway.status == "approved" and pathway.event.issuer_id == principal.tenant_id
    ]
    return json_response(LearnerPathways(learner_key=learner_key, pathways=pathways))


async def _redeemed_elsewhere(ctx: IssuanceContext, pathway: Pathway, rows: list[CredentialRow],
                              awarded: dict[str, str]) -> dict[str, str]:
    """Credits redeemed by another award of the pathway's pool: they count toward no award of it."""
    taken = await redemptions.redeemed(ctx.pool, credit_pool(pathway), [row.credential_id for row in rows])
    own = awarded.get(pathway.event.pathway_id)
    return {cid: award for cid, award in taken.items() if award != own}


def _progress(evaluation: Evaluation, awarded: str | None) -> PathwayProgress:
    event = evaluation.pathway.event
    return PathwayProgress(
        pathway_id=event.pathway_id, title=event.title, award_achievement_id=event.award_achievement_id,
        held={achievement: row.credential_id for achievement, row in evaluation.held.items()},
        missing_required=evaluation.missing_required,
        choices=[ChoiceProgress(k=group.k, of=group.of, held=held) for group, held in evaluation.choices],
        credits_held=evaluation.credits_held, credits_required=evaluation.rule.min_credits,
        credits_needed=evaluation.credits_needed,
        eligible=evaluation.satisfied and awarded is None, awarded_credential_id=awarded,
    )
