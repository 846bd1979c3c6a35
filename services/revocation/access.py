"""Who may change, or read the history of, whose credentials.

A credential's issuer may; so may an agency that accredits (or accredited)
the issuer, for example after withdrawing the accreditation or finding
fraud, and the agencies above it; so may the platform's bootstrap
administrator (docs/authorization.md). The history, with the issuer's
free-text reasons, is theirs and the holder's (with the learner link
token). To everyone else a credential looks like it does not exist, so
that ids cannot be probed across tenants; the public sees only the status
and the reason's category (the verification service).
"""

from __future__ import annotations

from functools import cache

from services.revocation.status_changes import MayAct
from shared.auth import BOOTSTRAP_CLIENT_ID, BOOTSTRAP_TENANT, Principal
from shared.registry_state import RegistryState


def may_manage(principal: Principal, registry: RegistryState) -> MayAct:
    if principal.role == "issuer":
        return lambda issuer_id: issuer_id == principal.tenant_id
    if principal.role != "agency_admin":
        return lambda issuer_id: False
    if principal.client_id == BOOTSTRAP_CLIENT_ID and principal.tenant_id == BOOTSTRAP_TENANT:
        return lambda issuer_id: True

    @cache  # a batch asks about the same few issuers thousands of times
    def oversees(issuer_id: str) -> bool:
        return any(principal.tenant_id in agency_line(registry, a.accreditor_id)
                   for a in registry.accreditations_of(issuer_id))

    return oversees


def agency_line(registry: RegistryState, agency_id: str) -> list[str]:
    """The agency and its parents up to the root."""
    line: list[str] = []
    current: str | None = agency_id
    while current is not None and current not in line:
        line.append(current)
        agency = registry.agencies.get(current)
        current = agency.parent_agency_id if agency else None
    return line
