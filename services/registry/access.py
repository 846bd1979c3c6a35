"""Who may act on what.

- The platform key (bootstrap admin, tenant "platform") creates root agencies
  and API clients; everything else needs an agency's or issuer's own key.
- An agency acts within its jurisdiction and within its authority: a root
  agency's own scope, or a sub-agency's delegations from its parent that are
  in force. It oversees the issuers registered or accredited by itself or
  its sub-agencies.
- An issuer acts only on its own resources.
- Which tenants a role reaches on which route is data
  (services/registry/authorization.py); `relation_to` places a tenant
  relative to the caller for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.registry import lookups, rules
from services.registry.authorization import MATRIX_RULES, Relation, permits
from services.registry.context import Caller
from services.registry.lookups import Db
from services.registry.views import AccreditationView, AgencyView, IssuerView
from shared.auth import BOOTSTRAP_TENANT
from shared.events import registry as ev
from shared.events.registry import accreditation_stream
from shared.refusals import Forbidden


def is_platform(caller: Caller) -> bool:
    return caller.role == "agency_admin" and caller.tenant == BOOTSTRAP_TENANT


@dataclass(frozen=True)
class Authority:
    """A scope an agency may act within, and the delegation it comes from
    (None for a root agency's own scope)."""

    scope: ev.AccreditationScope
    delegation: AccreditationView | None = None

    def expected_versions(self) -> dict[str, int]:
        """A decision made under a delegation must not survive its suspension."""
        if self.delegation is None:
            return {}
        return {accreditation_stream(self.delegation.accreditation_id): self.delegation.version}


async def acting_agency(db: Db, caller: Caller, doing: str) -> AgencyView:
    """The agency the caller administers."""
    if caller.role != "agency_admin":
        raise Forbidden(f"only an agency administrator can {doing}; this key is an {caller.role} key")
    if is_platform(caller):
        raise Forbidden(
            f"the platform key only creates root agencies and API clients; to {doing},"
            " use an administrator key of the agency concerned"
        )
    agency = await lookups.find_agency(db, caller.tenant)
    if agency is None:
        raise Forbidden(f"this key's tenant {caller.tenant!r} is not a registered agency")
    return agency


async def authorities(db: Db, agency: AgencyView) -> list[Authority]:
    """What the agency may act within now. A sub-agency's authority is its
    parent's delegations in force, and only while the parent's holds too."""
    if agency.parent_agency_id is None:
        return [Authority(agency.scope)]
    parent = await lookups.find_agency(db, agency.parent_agency_id)
    if parent is None or not await authorities(db, parent):
        return []
    delegations = await lookups.accreditations_of(db, "agency", agency.agency_id)
    return [Authority(d.scope, d) for d in delegations if d.in_force and d.accreditor_id == parent.agency_id]


async def authority_for(db: Db, agency: AgencyView, scope: ev.AccreditationScope, doing: str) -> Authority:
    """The authority that covers `scope`; nobody acts beyond its own scope."""
    options = await authorities(db, agency)
    if not options:
        raise Forbidden(
            f"agency {agency.agency_id!r} holds no delegation in force from its parent agency"
            f" {agency.parent_agency_id!r}, so it cannot {doing}"
        )
    excesses = [rules.scope_excess(scope, a.scope) for a in options]
    for authority, excess in zip(options, excesses, strict=True):
        if excess is None:
            return authority
    raise Forbidden(f"agency {agency.agency_id!r} cannot {doing} beyond its own scope: {excesses[0]}")


async def require_in_force(db: Db, agency: AgencyView, doing: str) -> dict[str, int]:
    """The agency's authority holds now; returns the delegation versions a
    write made on that basis must still find."""
    options = await authorities(db, agency)
    if not options:
        raise Forbidden(
            f"agency {agency.agency_id!r} holds no delegation in force from its parent agency, so it cannot {doing}"
        )
    return {stream: version for a in options for stream, version in a.expected_versions().items()}


async def overseen_agencies(db: Db, agency: AgencyView) -> list[str]:
    return await lookups.agency_and_descendants(db, agency.agency_id)


async def require_issuer_access(db: Db, caller: Caller, issuer: IssuerView, route: str, doing: str) -> None:
    """The issuer itself, or an admin of an agency that oversees it (the matrix's `subtree`)."""
    if caller.role != "issuer":
        await acting_agency(db, caller, doing)
    await require_permitted(db, caller, route, issuer.issuer_id, doing)


async def calling_issuer(db: Db, caller: Caller, doing: str) -> IssuerView:
    """The issuer whose key this is: only issuers propose their own specs."""
    if caller.role != "issuer":
        raise Forbidden(f"only an issuer can {doing}, with its own key; this key is an {caller.role} key")
    issuer = await lookups.find_issuer(db, caller.tenant)
    if issuer is None:
        raise Forbidden(f"this key's tenant {caller.tenant!r} is not a registered issuer")
    return issuer


async def accreditations_granted_by(db: Db, agency: AgencyView, issuer_id: str) -> list[AccreditationView]:
    return [a for a in await lookups.accreditations_of(db, "issuer", issuer_id) if a.accreditor_id == agency.agency_id]


async def covering_accreditation(
    db: Db, agency: AgencyView, issuer_id: str, spec: ev.AchievementSpec, doing: str
) -> AccreditationView:
    """The caller's accreditation of the issuer that is in force and covers the spec."""
    granted = await accreditations_granted_by(db, agency, issuer_id)
    if not granted:
        raise Forbidden(
            f"agency {agency.agency_id!r} has not accredited issuer {issuer_id!r};"
            f" only an accrediting agency can {doing}"
        )
    in_force = [a for a in granted if a.in_force]
    if not in_force:
        states = ", ".join(f"{a.accreditation_id} is {a.status if a.status != 'active' else 'outside its window'}"
                           for a in granted)
        raise Forbidden(
            f"the accreditation of issuer {issuer_id!r} by agency {agency.agency_id!r} is not in force ({states})")
    problems = [rules.coverage_problem(a.scope, spec) for a in in_force]
    for accreditation, problem in zip(in_force, problems, strict=True):
        if problem is None:
            return accreditation
    raise Forbidden(
        f"the accreditation of issuer {issuer_id!r} by agency {agency.agency_id!r} does not cover this achievement:"
        f" {problems[0]}"
    )


async def require_accreditor_or_self(db: Db, caller: Caller, issuer_id: str, doing: str) -> None:
    """The issuer itself, or an agency that has accredited it (at any time)."""
    if caller.role == "issuer":
        if caller.tenant != issuer_id:
            raise Forbidden(f"this key belongs to issuer {caller.tenant!r}; it cannot {doing} of issuer {issuer_id!r}")
        return
    agency = await acting_agency(db, caller, doing)
    if not await accreditations_granted_by(db, agency, issuer_id):
        raise Forbidden(f"agency {agency.agency_id!r} has not accredited issuer {issuer_id!r}, so it cannot {doing}")


def caller_kind(caller: Caller) -> str:
    """The caller's column in the authorization matrix."""
    return "platform" if is_platform(caller) else caller.role


async def subtree_tenants(db: Db, caller: Caller) -> list[str]:
    """The tenants of the caller's agency subtree: the agency, its sub-agencies,
    the issuers they oversee and the employer and auditor tenants they
    registered. An auditor's agency is the one that registered it."""
    if caller.role == "agency_admin":
        agency_id: str | None = caller.tenant
    elif caller.role == "auditor":
        registered = await lookups.tenant_registration(db, caller.tenant)
        agency_id = registered[0] if registered else None
    else:
        return []
    agencies = await lookups.agency_and_descendants(db, agency_id) if agency_id else []
    if not agencies:
        return []
    return [*agencies, *await lookups.issuers_overseen(db, agencies),
            *await lookups.organisations_registered_by(db, agencies)]


async def relation_to(db: Db, caller: Caller, tenant_id: str) -> Relation:
    if tenant_id == caller.tenant:
        return "own"
    return "subtree" if tenant_id in await subtree_tenants(db, caller) else "foreign"


async def require_permitted(db: Db, caller: Caller, route: str, tenant_id: str, doing: str) -> None:
    relation = await relation_to(db, caller, tenant_id)
    if permits(route, caller_kind(caller), relation):
        return
    if relation == "foreign":
        why = "which it does not oversee" if caller.role in ("agency_admin", "auditor") else "which is not its own"
    else:
        why = f"and a {caller.role} key may not, even within its own {'tenant' if relation == 'own' else 'subtree'}"
    owner = "agency" if caller.role == "agency_admin" else caller.role
    raise Forbidden(f"this key belongs to {owner} {caller.tenant!r}; it cannot {doing} of {tenant_id!r}, {why}"
                     " (docs/authorization.md)")


async def reach(db: Db, caller: Caller, route: str) -> tuple[bool, list[str]]:
    """Whether the caller reaches every tenant on this route, else the tenants it reaches."""
    rule = MATRIX_RULES[route].rule(caller_kind(caller))
    if rule == "all":
        return True, []
    if rule == "subtree":
        return False, [caller.tenant, *await subtree_tenants(db, caller)]
    return False, [caller.tenant] if rule == "own" else []


@dataclass(frozen=True)
class Visibility:
    """Whose unapproved achievements and pathways a reader may also see."""

    everything: bool = False
    # The tenants reached: an unapproved item is visible when its issuer is one.
    tenant_ids: tuple[str, ...] = ()


UNAPPROVED_ROUTE = "GET /v1/achievements/{achievement_id} (not approved)"


async def visibility(db: Db, caller: Caller | None) -> Visibility:
    if caller is None:
        return Visibility()
    everything, tenants = await reach(db, caller, UNAPPROVED_ROUTE)
    return Visibility(everything=everything, tenant_ids=tuple(tenants))
