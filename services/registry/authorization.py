"""Authorization as data: role x route x tenant rule, for every route that
touches a tenant's resources (docs/authorization.md is this table in words,
and tests/integration/test_authorization_matrix.py walks it over HTTP).

A rule says how far a role reaches from its own tenant:

- `own`: only its own tenant's resources (an issuer's own issuer profile,
  credentials and clients; an employer's own clients);
- `subtree`: its own tenant and the tenants its agency's subtree holds: its
  sub-agencies (at any depth), the issuers they registered or accredited,
  and the employer and auditor tenants they registered (such a tenant
  belongs to the agency that created its first client); an auditor's
  subtree is that of the agency that registered it;
- `all`: every tenant (the platform bootstrap key, for clients only);
- `none`: refused whatever the tenant.

A refusal is 403 when the caller may know the resource exists (public
registry resources) and 404 when it may not (clients, credentials,
unapproved achievements); either way nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Rule = Literal["none", "own", "subtree", "all"]
Relation = Literal["own", "subtree", "foreign"]
# The columns: the API key roles, and the platform's bootstrap key apart.
CALLERS = ("platform", "agency_admin", "auditor", "issuer", "employer")
REACHES: dict[Rule, frozenset[Relation]] = {
    "none": frozenset(),
    "own": frozenset({"own"}),
    "subtree": frozenset({"own", "subtree"}),
    "all": frozenset({"own", "subtree", "foreign"}),
}


@dataclass(frozen=True)
class RouteRules:
    service: str
    route: str
    # What "the tenant" of the route is, in words.
    tenant: str
    platform: Rule
    agency_admin: Rule
    auditor: Rule
    issuer: Rule
    employer: Rule

    def rule(self, caller: str) -> Rule:
        return getattr(self, caller)


MATRIX: tuple[RouteRules, ...] = (
    RouteRules("registry", "POST /v1/clients", "the new client's tenant", "all", "subtree", "none", "none", "none"),
    RouteRules("registry", "GET /v1/clients", "each listed client's tenant", "all", "subtree", "subtree", "own", "own"),
    RouteRules("registry", "GET /v1/clients/{client_id}", "the client's tenant",
               "all", "subtree", "subtree", "own", "own"),
    RouteRules("registry", "POST /v1/clients/{client_id}/keys", "the client's tenant",
               "all", "subtree", "none", "none", "none"),
    RouteRules("registry", "POST /v1/clients/{client_id}/keys/{key_id}/revoke", "the client's tenant",
               "all", "subtree", "none", "none", "none"),
    RouteRules("registry", "POST /v1/clients/{client_id}/revoke", "the client's tenant",
               "all", "subtree", "none", "none", "none"),
    RouteRules("registry", "PATCH /v1/issuers/{issuer_id}", "the issuer", "none", "subtree", "none", "own", "none"),
    RouteRules("registry", "POST /v1/issuers/{issuer_id}/keys", "the issuer", "none", "subtree", "none", "own", "none"),
    RouteRules("registry", "GET /v1/achievements/{achievement_id} (not approved)", "the proposing issuer",
               "all", "subtree", "subtree", "own", "none"),
    RouteRules("issuance", "GET /v1/credentials/{credential_id}", "the credential's issuer",
               "none", "none", "none", "own", "none"),
    RouteRules("revocation", "POST /v1/credentials/{id}/suspend", "the credential's issuer",
               "all", "subtree", "none", "own", "none"),
    RouteRules("revocation", "GET /v1/credentials/{id}/status-history", "the credential's issuer",
               "all", "subtree", "none", "own", "none"),
)
MATRIX_RULES = {rules.route: rules for rules in MATRIX}


def permits(route: str, caller: str, relation: Relation) -> bool:
    return relation in REACHES[MATRIX_RULES[route].rule(caller)]
