"""What one learner holds, from every issuer, for the wallet (internal API).

The learner is named by their email address; the learner key made from it
(and from superseded secrets, for rows not yet re-keyed) finds every
credential issued to them by any issuer, and every approved pathway they
have started: components held, missing, credits toward the threshold.
Each credential comes with its learner link token, so the wallet can fetch
every export, automatically stacked awards included (whose token no issuer
ever handed out).
"""

from __future__ import annotations

import datetime as dt

from services.issuance import store
from services.issuance.context import IssuanceContext
from services.issuance.learners import EMAIL
from services.issuance.schemas import LearnerIdentity
from services.issuance.stacking import Evaluation, evaluate
from services.issuance.store import CredentialRow
from shared.holdings import ChoiceView, ClaimDetails, HeldComponent, HeldCredential, Holdings, PathwayView
from shared.refusals import NotFound
from shared.timeutil import now


async def holdings(ctx: IssuanceContext, email: str) -> Holdings:
    learner = ctx.secrets.learner(LearnerIdentity(email=email))
    rows: dict[str, CredentialRow] = {}
    awarded: dict[str, str] = {}
    for key in (learner.learner_key, *learner.superseded_keys):
        rows.update({row.credential_id: row for row in await store.credentials_of_learner(ctx.pool, key)})
        awarded.update(await store.stacks_of_learner(ctx.pool, key))
    ordered = sorted(rows.values(), key=lambda row: (row.valid_from, row.credential_id), reverse=True)
    moment = now()
    evaluations = [evaluate(pathway, ordered, ctx.state, moment)
                   for pathway in sorted(ctx.state.pathways.values(), key=lambda p: p.event.pathway_id)
                   if pathway.status == "approved"]
    return Holdings(
        credentials=[_held(ctx, row) for row in ordered],
        pathways=[_pathway(ctx, e, awarded.get(e.pathway.event.pathway_id)) for e in evaluations
                  if e.held or e.pathway.event.pathway_id in awarded],
    )


async def claim_details(ctx: IssuanceContext, credential_id: str) -> ClaimDetails:
    row = await store.credential(ctx.pool, credential_id)
    if row is None:
        raise NotFound(f"no credential {credential_id}")
    email = await ctx.contacts.address(ctx.pool, row.learner_key) if row.identity_type == EMAIL else None
    return ClaimDetails(email=email, title=_title(ctx, row.achievement_id), issuer_name=_issuer(ctx, row.issuer_id))


def _held(ctx: IssuanceContext, row: CredentialRow) -> HeldCredential:
    achievement = ctx.state.achievements.get(row.achievement_id)
    spec = achievement.spec if achievement else None
    return HeldCredential(
        credential_id=row.credential_id, issuer_id=row.issuer_id, issuer_name=_issuer(ctx, row.issuer_id),
        achievement_id=row.achievement_id, title=_title(ctx, row.achievement_id),
        description=spec.description if spec else "", eqf_level=spec.eqf_level if spec else None,
        ects=spec.workload.ects if spec else None, valid_from=_iso(row.valid_from),
        valid_until=_iso(row.valid_until) if row.valid_until else None, status=row.status,
        holder_token=ctx.secrets.holder_token(row.credential_id), pathway_id=row.pathway_id,
    )


def _pathway(ctx: IssuanceContext, evaluation: Evaluation, awarded: str | None) -> PathwayView:
    event = evaluation.pathway.event

    def component(achievement_id: str) -> HeldComponent:
        row = evaluation.held.get(achievement_id)
        return HeldComponent(achievement_id=achievement_id, title=_title(ctx, achievement_id),
                             credential_id=row.credential_id if row else None)

    return PathwayView(
        pathway_id=event.pathway_id, title=event.title, issuer_name=_issuer(ctx, event.issuer_id),
        award_title=_title(ctx, event.award_achievement_id),
        required=[component(a) for a in event.rule.required],
        choices=[ChoiceView(k=group.k, options=[component(a) for a in group.of]) for group, _ in evaluation.choices],
        credits_held=evaluation.credits_held, credits_required=evaluation.rule.min_credits,
        credits_needed=evaluation.credits_needed, eligible=evaluation.satisfied and awarded is None,
        awarded_credential_id=awarded,
    )


def _title(ctx: IssuanceContext, achievement_id: str) -> str:
    achievement = ctx.state.achievements.get(achievement_id)
    return achievement.spec.title if achievement else achievement_id


def _issuer(ctx: IssuanceContext, issuer_id: str) -> str:
    issuer = ctx.state.issuers.get(issuer_id)
    return issuer.event.legal_name if issuer else issuer_id


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
