"""Registry access decisions that need no database: the platform key, role
checks made before any lookup, a caller's own tenant, and what a route's
rule reaches. (What needs the agency tree is walked over HTTP by
tests/integration/test_authorization_matrix.py.)"""

from __future__ import annotations

import pytest

from services.registry import access
from services.registry.context import Caller
from services.registry.views import AccreditationView
from shared.auth import BOOTSTRAP_TENANT, Principal
from shared.events import registry as ev
from shared.refusals import Forbidden

# No decision below may reach the database: a lookup would fail on this.
NO_DB = object()


def caller(role: str, tenant: str) -> Caller:
    return Caller(Principal(f"{tenant}-client", role, tenant))  # type: ignore[arg-type]


PLATFORM = caller("agency_admin", BOOTSTRAP_TENANT)
AGENCY = caller("agency_admin", "be-agency")
ISSUER = caller("issuer", "uni")
EMPLOYER = caller("employer", "acme")


def test_only_the_bootstrap_tenants_admin_is_the_platform():
    assert access.is_platform(PLATFORM)
    assert not access.is_platform(AGENCY)
    assert not access.is_platform(caller("issuer", BOOTSTRAP_TENANT))
    assert [access.caller_kind(c) for c in (PLATFORM, AGENCY, ISSUER, EMPLOYER)] == [
        "platform", "agency_admin", "issuer", "employer"]


async def test_only_an_agency_administrator_acts_for_an_agency():
    for who in (ISSUER, EMPLOYER):
        with pytest.raises(Forbidden, match=f"this key is an {who.role} key"):
            await access.acting_agency(NO_DB, who, "approve achievements")  # type: ignore[arg-type]


async def test_the_platform_key_does_not_act_for_agencies():
    with pytest.raises(Forbidden, match="the platform key only creates root agencies"):
        await access.acting_agency(NO_DB, PLATFORM, "approve achievements")  # type: ignore[arg-type]


async def test_only_an_issuer_proposes_its_own_specs():
    with pytest.raises(Forbidden, match="only an issuer can propose"):
        await access.calling_issuer(NO_DB, AGENCY, "propose achievements")  # type: ignore[arg-type]


async def test_an_issuer_reaches_only_its_own_records():
    await access.require_accreditor_or_self(NO_DB, ISSUER, "uni", "read the accreditations")  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="it cannot read the accreditations of issuer 'other'"):
        await access.require_accreditor_or_self(NO_DB, ISSUER, "other", "read the accreditations")  # type: ignore[arg-type]


async def test_the_callers_own_tenant_is_own_without_a_lookup():
    assert await access.relation_to(NO_DB, ISSUER, "uni") == "own"  # type: ignore[arg-type]


async def test_what_a_rule_reaches():
    # `all` for the platform on clients; `own` for an issuer; `none` for an employer creating clients.
    assert await access.reach(NO_DB, PLATFORM, "POST /v1/clients") == (True, [])  # type: ignore[arg-type]
    assert await access.reach(NO_DB, ISSUER, "GET /v1/clients") == (False, ["uni"])  # type: ignore[arg-type]
    assert await access.reach(NO_DB, EMPLOYER, "POST /v1/clients") == (False, [])  # type: ignore[arg-type]


async def test_a_permitted_own_route_needs_no_lookup_and_a_refused_one_says_why():
    await access.require_permitted(NO_DB, ISSUER, "GET /v1/clients", "uni", "list the clients")  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="a employer key may not, even within its own tenant"):
        await access.require_permitted(NO_DB, EMPLOYER, "POST /v1/clients", "acme",  # type: ignore[arg-type]
                                       "create a client")


async def test_anonymous_readers_see_only_approved_items():
    assert await access.visibility(NO_DB, None) == access.Visibility()  # type: ignore[arg-type]
    assert await access.visibility(NO_DB, ISSUER) == access.Visibility(tenant_ids=("uni",))  # type: ignore[arg-type]


def test_a_decision_under_a_delegation_expects_the_delegation_unchanged():
    scope = ev.AccreditationScope()
    assert access.Authority(scope).expected_versions() == {}
    delegation = _delegation(version=3)
    assert access.Authority(scope, delegation).expected_versions() == {"accreditation:del-1": 3}


def _delegation(version: int) -> AccreditationView:
    return AccreditationView(
        accreditation_id="del-1", accreditor_id="root", subject_kind="agency", subject_id="be-agency",
        country="BE", scope=ev.AccreditationScope(), valid_from="2026-01-01T00:00:00Z", valid_until=None,
        status="active", status_reason="", in_force=True, suspensions=[], withdrawal=None,
        created_at="2026-01-01T00:00:00Z", version=version)
