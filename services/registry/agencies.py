"""Agencies, their delegation and accreditation, and their frameworks.

A root agency (one per jurisdiction, created with the platform key or the
`credledger admin create-agency` command) holds the scope it was created
with. A sub-agency is created by its parent together with a delegation (an
accreditation whose subject is the agency), and acts only while that
delegation is in force and within its scope.
"""

from __future__ import annotations

import datetime as dt

from services.registry import access, lookups, rules
from services.registry import views as v
from services.registry.clients import client_events, new_api_key
from services.registry.context import Caller, RegistryContext, new_id
from services.registry.schemas import (
    CreateAgency,
    GrantAccreditation,
    PublishFramework,
    SuspendAccreditation,
    WithdrawAccreditation,
)
from shared.events import registry as ev
from shared.events.registry import accreditation_stream, agency_stream, client_stream, framework_stream
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid
from shared.timeutil import format_time, now

ROOT_SCOPE = ev.AccreditationScope(eqf_levels=list(range(1, 9)))


async def create_agency(ctx: RegistryContext, caller: Caller, req: CreateAgency) -> v.AgencyCreatedView:
    """A root agency (platform key) or a sub-agency of the caller's agency,
    with its first administrator client, in one append."""
    if caller.role != "agency_admin":
        raise Forbidden(f"only an agency administrator can create agencies; this key is an {caller.role} key")
    agency_id = req.agency_id or new_id("agency")
    if access.is_platform(caller):
        if req.valid_until is not None:
            raise Invalid("a root agency has no delegation window; valid_until is for sub-agencies")
        parent, scope = None, req.scope or ROOT_SCOPE
        delegation, expected = [], {}
    else:
        parent = await access.acting_agency(ctx.pool, caller, "create sub-agencies")
        scope, delegation, expected = await _delegation(ctx, parent, agency_id, req)
    await _check_scope(ctx, scope)
    created = ev.AgencyCreated(agency_id=agency_id, name=req.name, jurisdiction=req.jurisdiction,
                               parent_agency_id=parent.agency_id if parent else None, scope=scope)
    client_id, key = new_id("client"), new_api_key()
    admin_name = req.admin_client_name or f"{req.name} administrator"
    events = [NewEvent(agency_stream(agency_id), created), *delegation,
              *client_events(client_id, agency_id, "agency_admin", admin_name, "standard", key)]
    expected |= {agency_stream(agency_id): NO_STREAM, client_stream(client_id): NO_STREAM}
    positions = await ctx.write(caller, events, expected, verify=None if parent else _one_root(req.jurisdiction))
    return v.AgencyCreatedView(agency=await lookups.agency(ctx.pool, agency_id), admin_client_id=client_id,
                               admin_key_id=key.key_id, admin_api_key=key.secret, positions=positions)


def _one_root(jurisdiction: str):
    """One root agency per jurisdiction. Checked inside the write, after the
    append lock is taken, so two concurrent bootstraps cannot both succeed."""

    async def verify(conn) -> None:
        roots = await conn.fetch(
            lookups.QUERIES["root_agencies_in"], jurisdiction)
        if len(roots) > 1:
            raise Conflict(f"{jurisdiction} already has a root agency, {roots[0]['agency_id']!r};"
                                " further agencies there are its sub-agencies")

    return verify


async def _delegation(
    ctx: RegistryContext, parent: v.AgencyView, agency_id: str, req: CreateAgency
) -> tuple[ev.AccreditationScope, list[NewEvent], dict[str, int]]:
    if not (req.jurisdiction == parent.jurisdiction or req.jurisdiction.startswith(parent.jurisdiction + "-")):
        raise Forbidden(f"agency {parent.agency_id!r} ({parent.jurisdiction}) can create sub-agencies only in"
                         f" {parent.jurisdiction} or its subdivisions, not in {req.jurisdiction}")
    options = await access.authorities(ctx.pool, parent)
    scope = req.scope or (options[0].scope if options else parent.scope)
    authority = await access.authority_for(ctx.pool, parent, scope, "delegate")
    start = now()
    _check_window(start, req.valid_until, authority, start)
    accreditation_id = new_id("acc")
    granted = ev.AccreditationGranted(
        accreditation_id=accreditation_id, accreditor_id=parent.agency_id, subject_kind="agency",
        subject_id=agency_id, scope=scope, valid_from=format_time(start),
        valid_until=format_time(req.valid_until) if req.valid_until else None,
    )
    expected = {accreditation_stream(accreditation_id): NO_STREAM, **authority.expected_versions()}
    return scope, [NewEvent(accreditation_stream(accreditation_id), granted)], expected


async def _check_scope(ctx: RegistryContext, scope: ev.AccreditationScope) -> None:
    problem = rules.scope_problem(scope)
    if problem:
        raise Invalid(f"scope: {problem}")
    for framework_id in scope.frameworks:
        if await lookups.find_framework(ctx.pool, framework_id) is None:
            raise Invalid(f"scope: there is no framework {framework_id!r}; publish it first")


def _check_window(
    valid_from: dt.datetime, valid_until: dt.datetime | None, authority: access.Authority, moment: dt.datetime
) -> None:
    problem = rules.window_problem(valid_from, valid_until, moment)
    if problem:
        raise Invalid(problem)
    ceiling = authority.delegation.valid_until if authority.delegation else None
    if ceiling and (valid_until is None or valid_until > dt.datetime.fromisoformat(ceiling)):
        raise Forbidden(f"the agency's own delegation ends at {ceiling}; what it grants must end by then"
                         " (set valid_until)")


async def grant_accreditation(ctx: RegistryContext, caller: Caller, req: GrantAccreditation) -> v.AccreditationWritten:
    agency = await access.acting_agency(ctx.pool, caller, "grant accreditations")
    await _check_scope(ctx, req.scope)
    await _check_subject(ctx, agency, req)
    authority = await access.authority_for(ctx.pool, agency, req.scope, "accredit")
    moment = now()
    valid_from = req.valid_from or moment
    _check_window(valid_from, req.valid_until, authority, moment)
    accreditation_id = req.accreditation_id or new_id("acc")
    granted = ev.AccreditationGranted(
        accreditation_id=accreditation_id, accreditor_id=agency.agency_id, subject_kind=req.subject_kind,
        subject_id=req.subject_id, scope=req.scope, valid_from=format_time(valid_from),
        valid_until=format_time(req.valid_until) if req.valid_until else None,
    )
    stream = accreditation_stream(accreditation_id)
    positions = await ctx.write(caller, [NewEvent(stream, granted)],
                                {stream: NO_STREAM, **authority.expected_versions()})
    return v.AccreditationWritten(accreditation=await lookups.accreditation(ctx.pool, accreditation_id),
                                  positions=positions)


async def _check_subject(ctx: RegistryContext, agency: v.AgencyView, req: GrantAccreditation) -> None:
    if req.subject_kind == "agency":
        subject = await lookups.agency(ctx.pool, req.subject_id)
        if subject.parent_agency_id != agency.agency_id:
            raise Forbidden(f"agency {agency.agency_id!r} can accredit only its own sub-agencies;"
                             f" {subject.agency_id!r} is not one")
        return
    issuer = await lookups.issuer(ctx.pool, req.subject_id)
    if not rules.jurisdiction_covers(agency.jurisdiction, issuer.country):
        raise Forbidden(f"issuer {issuer.issuer_id!r} is in {issuer.country}, outside agency"
                         f" {agency.agency_id!r}'s jurisdiction {agency.jurisdiction}")


async def _accreditation_to_change(
    ctx: RegistryContext, caller: Caller, accreditation_id: str, doing: str
) -> v.AccreditationView:
    """The accreditation, if the caller granted it or oversees the agency that did."""
    accreditation = await lookups.accreditation(ctx.pool, accreditation_id)
    agency = await access.acting_agency(ctx.pool, caller, doing)
    if accreditation.accreditor_id not in await access.overseen_agencies(ctx.pool, agency):
        raise Forbidden(f"accreditation {accreditation_id!r} was granted by agency {accreditation.accreditor_id!r};"
                         f" only it, or an agency above it, can {doing}")
    return accreditation


async def _change(ctx: RegistryContext, caller: Caller, accreditation: v.AccreditationView,
                  event: ev.Event) -> v.AccreditationWritten:
    stream = accreditation_stream(accreditation.accreditation_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: accreditation.version})
    return v.AccreditationWritten(
        accreditation=await lookups.accreditation(ctx.pool, accreditation.accreditation_id), positions=positions)


async def suspend_accreditation(
    ctx: RegistryContext, caller: Caller, accreditation_id: str, req: SuspendAccreditation
) -> v.AccreditationWritten:
    accreditation = await _accreditation_to_change(ctx, caller, accreditation_id, "suspend it")
    if accreditation.status != "active":
        raise Conflict(f"accreditation {accreditation_id!r} is {accreditation.status};"
                            " only an active accreditation can be suspended")
    event = ev.AccreditationSuspended(accreditation_id=accreditation_id, reason=req.reason, at=format_time(now()))
    return await _change(ctx, caller, accreditation, event)


async def reinstate_accreditation(
    ctx: RegistryContext, caller: Caller, accreditation_id: str
) -> v.AccreditationWritten:
    accreditation = await _accreditation_to_change(ctx, caller, accreditation_id, "reinstate it")
    if accreditation.status != "suspended":
        raise Conflict(f"accreditation {accreditation_id!r} is {accreditation.status};"
                            " only a suspended accreditation can be reinstated")
    event = ev.AccreditationReinstated(accreditation_id=accreditation_id, at=format_time(now()))
    return await _change(ctx, caller, accreditation, event)


async def withdraw_accreditation(
    ctx: RegistryContext, caller: Caller, accreditation_id: str, req: WithdrawAccreditation
) -> v.AccreditationWritten:
    accreditation = await _accreditation_to_change(ctx, caller, accreditation_id, "withdraw it")
    if accreditation.status == "withdrawn":
        raise Conflict(f"accreditation {accreditation_id!r} was already withdrawn")
    moment = now()
    if (req.credentials_policy == "revoke_issued_after") != (req.revoke_issued_after is not None):
        raise Invalid("revoke_issued_after is required with credentials_policy 'revoke_issued_after',"
                      " and only with it")
    if req.revoke_issued_after is not None and req.revoke_issued_after > moment + rules.CLOCK_SKEW:
        raise Invalid("revoke_issued_after cannot be in the future: nothing has been issued after it yet")
    event = ev.AccreditationWithdrawn(
        accreditation_id=accreditation_id, reason=req.reason, at=format_time(moment),
        credentials_policy=req.credentials_policy,
        revoke_issued_after=format_time(req.revoke_issued_after) if req.revoke_issued_after else None,
    )
    return await _change(ctx, caller, accreditation, event)


async def publish_framework(ctx: RegistryContext, caller: Caller, req: PublishFramework) -> v.FrameworkWritten:
    agency = await access.acting_agency(ctx.pool, caller, "publish frameworks")
    delegations = await access.require_in_force(ctx.pool, agency, "publish frameworks")
    problem = rules.framework_problem(req.levels, req.hours_per_credit, req.credit_system)
    if problem:
        raise Invalid(problem)
    framework_id = req.framework_id or new_id("fw")
    event = ev.FrameworkPublished(framework_id=framework_id, agency_id=agency.agency_id, name=req.name,
                                  credit_system=req.credit_system, hours_per_credit=req.hours_per_credit,
                                  levels=req.levels)
    stream = framework_stream(framework_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: NO_STREAM, **delegations})
    return v.FrameworkWritten(framework=await lookups.framework(ctx.pool, framework_id), positions=positions)
