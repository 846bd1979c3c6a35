"""What issuers offer: achievement specifications and stacking pathways.

Issuers propose; an agency that accredits the issuer, with an accreditation
in force that covers the spec, approves. Nothing unapproved can be issued:
issuance reads the status from these events (shared/registry_state.py).
Approvals append with the expected versions of the spec and of the
accreditation they rely on, so a concurrent change (a suspension, another
decision) makes one of the two writers retry on fresh data.
"""

from __future__ import annotations

from services.registry import access, lookups, rules
from services.registry import views as v
from services.registry.context import Caller, RegistryContext, new_id
from services.registry.schemas import Decision, ProposeAchievement, ProposePathway
from shared.events import registry as ev
from shared.events.registry import accreditation_stream, achievement_stream, pathway_stream
from shared.ledger.eventstore.events import Event
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid, NotFound
from shared.timeutil import format_time, now


async def propose_achievement(ctx: RegistryContext, caller: Caller, req: ProposeAchievement) -> v.AchievementWritten:
    issuer = await access.calling_issuer(ctx.pool, caller, "propose achievements")
    problem = rules.spec_problem(req.spec, issuer.country)
    framework = await lookups.find_framework(ctx.pool, req.spec.framework_id) if req.spec.framework_id else None
    problem = problem or rules.framework_level_problem(req.spec, framework)
    if problem:
        raise Invalid(f"spec: {problem}")
    achievement_id = req.achievement_id or new_id("ach")
    event = ev.AchievementProposed(achievement_id=achievement_id, issuer_id=issuer.issuer_id, spec=req.spec)
    positions = await _decide(ctx, caller, achievement_stream(achievement_id), NO_STREAM, event)
    return await _achievement_written(ctx, achievement_id, positions)


async def _achievement_written(ctx: RegistryContext, achievement_id: str, positions: list[int]) -> v.AchievementWritten:
    return v.AchievementWritten(achievement=await lookups.achievement(ctx.pool, achievement_id), positions=positions)


def _require_status(what: str, current: str, allowed: tuple[str, ...], doing: str) -> None:
    if current not in allowed:
        raise Conflict(f"{what} is {current}; only a {' or '.join(allowed)} one can be {doing}")


# Achievements and pathways go through the same decisions; these are the
# steps they share.

async def _decide(
    ctx: RegistryContext, caller: Caller, stream: str, version: int, event: Event,
    relied_on: dict[str, int] | None = None,
) -> list[int]:
    """Append `event` to the subject's stream, expecting the version decided
    on and the versions of what the decision `relied_on`."""
    return await ctx.write(caller, [NewEvent(stream, event)], {stream: version, **(relied_on or {})})


async def _approver(
    ctx: RegistryContext, caller: Caller, issuer_id: str, spec: ev.AchievementSpec, kind: str,
) -> tuple[v.AgencyView, dict[str, int]]:
    """The approving agency, and the versions its approval relies on: its
    delegations in force and its accreditation of the issuer covering `spec`."""
    agency = await access.acting_agency(ctx.pool, caller, f"approve {kind}s")
    delegations = await access.require_in_force(ctx.pool, agency, f"approve {kind}s")
    accreditation = await access.covering_accreditation(ctx.pool, agency, issuer_id, spec, f"approve its {kind}s")
    return agency, {accreditation_stream(accreditation.accreditation_id): accreditation.version, **delegations}


_STREAMS = {"achievement": achievement_stream, "pathway": pathway_stream}


async def _withdrawal(
    ctx: RegistryContext, caller: Caller, kind: str, subject_id: str, subject: v.AchievementView | v.PathwayView,
    event: Event,
) -> list[int]:
    """By the owning issuer, or by an agency that accredits it."""
    await access.require_accreditor_or_self(ctx.pool, caller, subject.issuer_id, f"withdraw the {kind}s")
    _require_status(f"{kind} {subject_id!r}", subject.status, ("proposed", "approved"), "withdrawn")
    return await _decide(ctx, caller, _STREAMS[kind](subject_id), subject.version, event)


async def approve_achievement(ctx: RegistryContext, caller: Caller, achievement_id: str) -> v.AchievementWritten:
    achievement = await lookups.achievement(ctx.pool, achievement_id)
    agency, relied_on = await _approver(ctx, caller, achievement.issuer_id, achievement.spec, "achievement")
    _require_status(f"achievement {achievement_id!r}", achievement.status, ("proposed",), "approved")
    event = ev.AchievementApproved(achievement_id=achievement_id, agency_id=agency.agency_id, at=format_time(now()))
    positions = await _decide(ctx, caller, achievement_stream(achievement_id), achievement.version, event, relied_on)
    return await _achievement_written(ctx, achievement_id, positions)


async def reject_achievement(
    ctx: RegistryContext, caller: Caller, achievement_id: str, req: Decision
) -> v.AchievementWritten:
    achievement = await lookups.achievement(ctx.pool, achievement_id)
    agency = await access.acting_agency(ctx.pool, caller, "reject achievements")
    if not await access.accreditations_granted_by(ctx.pool, agency, achievement.issuer_id):
        raise Forbidden(f"agency {agency.agency_id!r} has not accredited issuer {achievement.issuer_id!r};"
                         " only an accrediting agency can reject its achievements")
    _require_status(f"achievement {achievement_id!r}", achievement.status, ("proposed",), "rejected")
    event = ev.AchievementRejected(achievement_id=achievement_id, agency_id=agency.agency_id, reason=req.reason)
    positions = await _decide(ctx, caller, achievement_stream(achievement_id), achievement.version, event)
    return await _achievement_written(ctx, achievement_id, positions)


async def withdraw_achievement(
    ctx: RegistryContext, caller: Caller, achievement_id: str, req: Decision
) -> v.AchievementWritten:
    achievement = await lookups.achievement(ctx.pool, achievement_id)
    event = ev.AchievementWithdrawn(achievement_id=achievement_id, reason=req.reason)
    positions = await _withdrawal(ctx, caller, "achievement", achievement_id, achievement, event)
    return await _achievement_written(ctx, achievement_id, positions)


# -- pathways ------------------------------------------------------------------------

async def propose_pathway(ctx: RegistryContext, caller: Caller, req: ProposePathway) -> v.PathwayWritten:
    issuer = await access.calling_issuer(ctx.pool, caller, "propose pathways")
    problem = rules.pathway_rule_problem(req.rule, req.award_achievement_id)
    if problem:
        raise Invalid(f"rule: {problem}")
    components = rules.pathway_components(req.rule)
    known = await lookups.achievements_by_id(ctx.pool, [req.award_achievement_id, *components])
    unknown = [a for a in [req.award_achievement_id, *components] if a not in known]
    if unknown:
        raise Invalid(f"there are no achievements {unknown}")
    if known[req.award_achievement_id].issuer_id != issuer.issuer_id:
        raise Forbidden(f"the award {req.award_achievement_id!r} belongs to issuer"
                         f" {known[req.award_achievement_id].issuer_id!r}; a pathway leads to its owner's own award")
    foreign = [a for a in components if known[a].issuer_id != issuer.issuer_id]
    if foreign and not req.rule.allow_other_issuers:
        raise Invalid(f"components {foreign} belong to other issuers;"
                      " set allow_other_issuers to accept credit transfer")
    pathway_id = req.pathway_id or new_id("pathway")
    event = ev.PathwayProposed(pathway_id=pathway_id, issuer_id=issuer.issuer_id, title=req.title,
                               award_achievement_id=req.award_achievement_id, rule=req.rule)
    positions = await _decide(ctx, caller, pathway_stream(pathway_id), NO_STREAM, event)
    return await _pathway_written(ctx, pathway_id, positions)


async def _pathway_written(ctx: RegistryContext, pathway_id: str, positions: list[int]) -> v.PathwayWritten:
    return v.PathwayWritten(pathway=await lookups.pathway(ctx.pool, pathway_id), positions=positions)


async def approve_pathway(ctx: RegistryContext, caller: Caller, pathway_id: str) -> v.PathwayWritten:
    pathway = await lookups.pathway(ctx.pool, pathway_id)
    award = await lookups.achievement(ctx.pool, pathway.award_achievement_id)
    agency, relied_on = await _approver(ctx, caller, pathway.issuer_id, award.spec, "pathway")
    _require_status(f"pathway {pathway_id!r}", pathway.status, ("proposed",), "approved")
    ids = [pathway.award_achievement_id, *rules.pathway_components(pathway.rule)]
    achievements = await lookups.achievements_by_id(ctx.pool, ids)
    unapproved = [a for a in ids if achievements[a].status != "approved"]
    if unapproved:
        raise Conflict(f"a pathway can be approved once its award and components are;"
                            f" {unapproved} are not approved")
    event = ev.PathwayApproved(pathway_id=pathway_id, agency_id=agency.agency_id, at=format_time(now()))
    relied_on |= {achievement_stream(a): achievements[a].version for a in ids}
    positions = await _decide(ctx, caller, pathway_stream(pathway_id), pathway.version, event, relied_on)
    return await _pathway_written(ctx, pathway_id, positions)


async def withdraw_pathway(ctx: RegistryContext, caller: Caller, pathway_id: str, req: Decision) -> v.PathwayWritten:
    """By the owning issuer, or by an accrediting agency (which is also how a
    proposal is turned down)."""
    pathway = await lookups.pathway(ctx.pool, pathway_id)
    event = ev.PathwayWithdrawn(pathway_id=pathway_id, reason=req.reason)
    positions = await _withdrawal(ctx, caller, "pathway", pathway_id, pathway, event)
    return await _pathway_written(ctx, pathway_id, positions)


# -- reading ----------------------------------------------------------------------------

def _sees(seen: access.Visibility, issuer_id: str) -> bool:
    return seen.everything or issuer_id in seen.tenant_ids


async def visible_achievement(ctx: RegistryContext, caller: Caller | None, achievement_id: str) -> v.AchievementView:
    """Approved achievements are public; the others only for their issuer,
    the agencies overseeing it, auditors and the platform."""
    achievement = await lookups.achievement(ctx.pool, achievement_id)
    if achievement.status != "approved" and not _sees(await access.visibility(ctx.pool, caller), achievement.issuer_id):
        raise NotFound(f"there is no approved achievement {achievement_id!r}; unapproved ones are visible only"
                       " to their issuer and the agencies overseeing it")
    return achievement


async def published_achievement(ctx: RegistryContext, achievement_id: str) -> v.AchievementView:
    """What its public id answers: approved, or withdrawn after approval,
    because credentials issued while it was approved still name that id."""
    achievement = await lookups.achievement(ctx.pool, achievement_id)
    # Only an approval or a rejection records a decider, and a rejected spec cannot be withdrawn.
    if achievement.status == "approved" or (achievement.status == "withdrawn" and achievement.decided_by):
        return achievement
    raise NotFound(f"there is no published achievement {achievement_id!r}")


async def visible_pathway(ctx: RegistryContext, caller: Caller | None, pathway_id: str) -> v.PathwayView:
    pathway = await lookups.pathway(ctx.pool, pathway_id)
    if pathway.status != "approved" and not _sees(await access.visibility(ctx.pool, caller), pathway.issuer_id):
        raise NotFound(f"there is no approved pathway {pathway_id!r}; unapproved ones are visible only"
                       " to their issuer and the agencies overseeing it")
    return pathway
