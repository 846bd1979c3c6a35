"""Recognition agreements and framework referencing: the commands.

An issuer declares that credentials of other issuers matching a rule count
toward its pathways; an agency declares it for every issuer it accredits.
The agreement is public. An agency may revoke it: the recognising agency,
one above it, or one that accredits the recognising issuer (the issuer
itself may withdraw its own). What a revocation does to awards already made
is the policy recorded on the agreement (`on_revoked`: keep, or flag them
for review; services/revocation/cascade.py applies it).

An agency references the frameworks it publishes to the EQF (or to another
framework); each publication is the next version on the framework's
`referencing:` stream, and the history stays public.
"""

from __future__ import annotations

from services.registry import access, lookups, recognition_lookups, recognition_rules
from services.registry import recognition_views as rv
from services.registry.context import Caller, RegistryContext, new_id
from shared.events import endorsements as endo
from shared.events import recognition as rec
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid
from shared.timeutil import format_time, now


async def declare_agreement(ctx: RegistryContext, caller: Caller, req: rv.DeclareAgreement) -> rv.AgreementWritten:
    kind, recogniser, expected = await _recogniser(ctx, caller)
    moment = now()
    valid_from = req.valid_from or moment
    problem = recognition_rules.agreement_window_problem(valid_from, req.valid_until, moment)
    problem = problem or await _match_problem(ctx, req.match, kind, recogniser)
    if problem is None and req.credit_value <= 0:
        problem = "credit_value must be greater than zero: it is what an admitted credential brings"
    if problem:
        raise Invalid(problem)
    await _check_pathways(ctx, req.pathway_ids, kind, recogniser)
    agreement_id = req.agreement_id or new_id("rec")
    event = rec.RecognitionAgreementDeclared(
        agreement_id=agreement_id, recognising_kind=kind, recognising_id=recogniser, title=req.title,
        pathway_ids=req.pathway_ids, match=req.match, valid_from=format_time(valid_from),
        valid_until=format_time(req.valid_until) if req.valid_until else None,
        max_credential_age_days=req.max_credential_age_days, credit_value=req.credit_value,
        on_revoked=req.on_revoked,
    )
    stream = f"recognition:{agreement_id}"
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: NO_STREAM, **expected})
    return rv.AgreementWritten(agreement=await recognition_lookups.agreement(ctx.pool, agreement_id),
                               positions=positions)


async def _recogniser(ctx: RegistryContext, caller: Caller) -> tuple[str, str, dict[str, int]]:
    if caller.role == "issuer":
        issuer = await access.calling_issuer(ctx.pool, caller, "declare recognition agreements")
        return "issuer", issuer.issuer_id, {}
    agency = await access.acting_agency(ctx.pool, caller, "declare recognition agreements")
    delegations = await access.require_in_force(ctx.pool, agency, "declare recognition agreements")
    return "agency", agency.agency_id, delegations


async def _match_problem(ctx: RegistryContext, match: rec.CredentialMatch, kind: str, recogniser: str) -> str | None:
    framework = None if match.framework_id == rec.EQF else await lookups.find_framework(ctx.pool, match.framework_id)
    codes = recognition_rules.framework_codes(
        match.framework_id, [level.code for level in framework.levels] if framework else None)
    problem = recognition_rules.match_problem(match, codes)
    if problem:
        return problem
    if match.achievement_id is not None:
        achievement = await lookups.find_achievement(ctx.pool, match.achievement_id)
        if achievement is None or achievement.status != "approved":
            return f"there is no approved achievement {match.achievement_id!r} to recognise"
        if kind == "issuer" and achievement.issuer_id == recogniser:
            return f"achievement {match.achievement_id!r} is the issuer's own; its pathways count it without an agreement"
    unknown = [a for a in match.accredited_by if await lookups.find_agency(ctx.pool, a) is None]
    return f"there are no agencies {unknown}" if unknown else None


async def _check_pathways(ctx: RegistryContext, pathway_ids: list[str], kind: str, recogniser: str) -> None:
    for pathway_id in pathway_ids:
        pathway = await lookups.find_pathway(ctx.pool, pathway_id)
        if pathway is None:
            raise Invalid(f"there is no pathway {pathway_id!r}")
        if kind == "issuer" and pathway.issuer_id != recogniser:
            raise Forbidden(f"pathway {pathway_id!r} is {pathway.issuer_id}'s; an issuer's agreement covers its own")


async def revoke_agreement(
    ctx: RegistryContext, caller: Caller, agreement_id: str, req: rv.RevokeAgreement
) -> rv.AgreementWritten:
    agreement = await recognition_lookups.agreement(ctx.pool, agreement_id)
    revoker = await _revoker(ctx, caller, agreement)
    if agreement.status == "revoked":
        raise Conflict(f"recognition agreement {agreement_id!r} was already revoked")
    event = rec.RecognitionAgreementRevoked(agreement_id=agreement_id, revoked_by=revoker, reason=req.reason,
                                            at=format_time(now()))
    stream = f"recognition:{agreement_id}"
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: agreement.version})
    return rv.AgreementWritten(agreement=await recognition_lookups.agreement(ctx.pool, agreement_id),
                               positions=positions)


async def _revoker(ctx: RegistryContext, caller: Caller, agreement: rv.AgreementView) -> str:
    doing = "revoke this recognition agreement"
    if agreement.recognising_kind == "issuer":
        await access.require_accreditor_or_self(ctx.pool, caller, agreement.recognising_id, doing)
        return caller.tenant
    agency = await access.acting_agency(ctx.pool, caller, doing)
    if agreement.recognising_id not in await access.overseen_agencies(ctx.pool, agency):
        raise Forbidden(f"agreement {agreement.agreement_id!r} is agency {agreement.recognising_id!r}'s;"
                        " only it, or an agency above it, can revoke it")
    return agency.agency_id


async def reference_framework(
    ctx: RegistryContext, caller: Caller, framework_id: str, req: rv.ReferenceFramework
) -> rv.ReferencingWritten:
    agency = await access.acting_agency(ctx.pool, caller, "reference frameworks")
    delegations = await access.require_in_force(ctx.pool, agency, "reference frameworks")
    framework = await lookups.framework(ctx.pool, framework_id)
    if framework.agency_id not in await access.overseen_agencies(ctx.pool, agency):
        raise Forbidden(f"framework {framework_id!r} is agency {framework.agency_id!r}'s;"
                        " only it, or an agency above it, references it")
    target = None if req.target_framework_id == rec.EQF else await lookups.find_framework(
        ctx.pool, req.target_framework_id)
    target_codes = recognition_rules.framework_codes(
        req.target_framework_id, [level.code for level in target.levels] if target else None)
    problem = recognition_rules.referencing_problem(
        framework_id, [level.code for level in framework.levels], req.target_framework_id, target_codes, req.mappings)
    if problem:
        raise Invalid(problem)
    event = rec.FrameworkReferenced(framework_id=framework_id, agency_id=agency.agency_id,
                                    target_framework_id=req.target_framework_id, mappings=req.mappings,
                                    report_url=req.report_url, at=format_time(now()))
    stream = f"referencing:{framework_id}"
    current = await recognition_lookups.referencing(ctx.pool, framework_id)
    version = current.history[-1].version if current.history else NO_STREAM
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: version, **delegations})
    return rv.ReferencingWritten(referencing=await recognition_lookups.referencing(ctx.pool, framework_id),
                                 positions=positions)


async def register_endorser(ctx: RegistryContext, caller: Caller, req: rv.RegisterEndorser) -> rv.EndorserWritten:
    """An organisation the agency (or one below it) registered may then endorse credentials."""
    agency = await access.acting_agency(ctx.pool, caller, "register endorsers")
    profile = await lookups.issuer(ctx.pool, req.endorser_id)
    if profile.registered_by not in await access.overseen_agencies(ctx.pool, agency):
        raise Forbidden(f"{req.endorser_id!r} was registered by agency {profile.registered_by!r};"
                        " only it, or an agency above it, makes it an endorser")
    event = endo.EndorserRegistered(endorser_id=req.endorser_id, agency_id=agency.agency_id, at=format_time(now()))
    stream = f"endorser:{req.endorser_id}"
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: NO_STREAM})
    return rv.EndorserWritten(endorser=await recognition_lookups.endorser(ctx.pool, req.endorser_id),
                              positions=positions)
