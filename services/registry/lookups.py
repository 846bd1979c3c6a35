"""Reading the registry's tables into views, for answers and for decisions.

Each read returns the row's stream version with it (in the view), so a
command can append with that version as its expected one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

from services.registry import views as v
from shared.credential_format import verification_method
from shared.crypto.did_key import DID_KEY_PREFIX
from shared.db.sql import load_queries
from shared.events import registry as ev
from shared.refusals import NotFound
from shared.registry_state import Accreditation
from shared.timeutil import format_time, now

QUERIES = load_queries("services.registry")
Db = asyncpg.Pool | asyncpg.Connection
Row = asyncpg.Record | dict[str, Any]


def iso(moment: dt.datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


def _json(text: str, type_: Any) -> Any:
    return msgspec.json.decode(text, type=type_)


# -- row -> view ------------------------------------------------------------------

def agency_view(row: Row) -> v.AgencyView:
    return v.AgencyView(
        agency_id=row["agency_id"], name=row["name"], jurisdiction=row["jurisdiction"],
        parent_agency_id=row["parent_agency_id"], scope=_json(row["scope"], ev.AccreditationScope),
        created_at=iso(row["created_at"]), version=row["version"],
    )


def _state_of(view: v.AccreditationView) -> Accreditation:
    """The shared in-memory form, so "in force at a moment" is decided by the
    same code here as in issuance and verification."""
    parse = dt.datetime.fromisoformat
    return Accreditation(
        view.accreditation_id, view.accreditor_id, view.subject_kind, view.subject_id, view.scope,
        parse(view.valid_from), parse(view.valid_until) if view.valid_until else None,
        suspensions=[[parse(s.from_), parse(s.until) if s.until else None] for s in view.suspensions],
        withdrawn_at=parse(view.withdrawal.at) if view.withdrawal else None,
        withdrawal=view.withdrawal,
    )


def accreditation_view(row: Row) -> v.AccreditationView:
    view = v.AccreditationView(
        accreditation_id=row["accreditation_id"], accreditor_id=row["accreditor_id"],
        subject_kind=row["subject_kind"], subject_id=row["subject_id"], country=row["country"],
        scope=_json(row["scope"], ev.AccreditationScope), valid_from=iso(row["valid_from"]),
        valid_until=iso(row["valid_until"]), status=row["status"], status_reason=row["status_reason"],
        in_force=False, suspensions=_json(row["suspensions"], list[v.Suspension]),
        withdrawal=_json(row["withdrawal"], ev.AccreditationWithdrawn) if row["withdrawal"] else None,
        created_at=iso(row["created_at"]), version=row["version"],
    )
    view.in_force = _state_of(view).active_at(now())
    return view


def framework_view(row: Row) -> v.FrameworkView:
    return v.FrameworkView(
        framework_id=row["framework_id"], agency_id=row["agency_id"], name=row["name"],
        credit_system=row["credit_system"], hours_per_credit=row["hours_per_credit"],
        levels=_json(row["levels"], list[ev.FrameworkLevel]), created_at=iso(row["created_at"]),
        version=row["version"],
    )


def issuer_view(row: Row) -> v.IssuerView:
    return v.IssuerView(
        issuer_id=row["issuer_id"], legal_name=row["legal_name"], country=row["country"], did=row["did"],
        homepage=row["homepage"], email=row["email"], identifiers=_json(row["identifiers"], list[ev.Identifier]),
        registered_by=row["registered_by"], accredited=row["accredited"], created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]), version=row["version"],
    )


def key_view(row: Row, did: str) -> v.KeyView:
    return v.KeyView(
        key_id=row["key_id"], verification_method=verification_method(did, row["key_id"]),
        did_key=DID_KEY_PREFIX + row["public_key_multibase"],
        public_key_multibase=row["public_key_multibase"], custody=row["custody"],
        valid_from=iso(row["valid_from"]), valid_until=iso(row["valid_until"]),
        compromised_at=iso(row["compromised_at"]), compromise_reason=row["compromise_reason"],
        status=_key_status(row, now()),
    )


def _key_status(row: Row, moment: dt.datetime) -> str:
    if row["compromised_at"] is not None:
        return "compromised"
    if moment < row["valid_from"]:
        return "pending"
    if row["valid_until"] is not None and moment >= row["valid_until"]:
        return "retired"
    return "active"


def achievement_view(row: Row) -> v.AchievementView:
    return v.AchievementView(
        achievement_id=row["achievement_id"], issuer_id=row["issuer_id"], status=row["status"],
        spec=_json(row["spec"], ev.AchievementSpec), decided_by=row["decided_by"],
        decided_at=iso(row["decided_at"]), status_reason=row["status_reason"],
        created_at=iso(row["created_at"]), version=row["version"],
    )


def pathway_view(row: Row) -> v.PathwayView:
    return v.PathwayView(
        pathway_id=row["pathway_id"], issuer_id=row["issuer_id"], title=row["title"],
        award_achievement_id=row["award_achievement_id"], rule=_json(row["rule"], ev.PathwayRule),
        status=row["status"], decided_by=row["decided_by"], decided_at=iso(row["decided_at"]),
        status_reason=row["status_reason"], created_at=iso(row["created_at"]), version=row["version"],
    )


def client_view(row: Row, keys: list[Row]) -> v.ClientView:
    return v.ClientView(
        client_id=row["client_id"], tenant_id=row["tenant_id"], role=row["role"], name=row["name"],
        rate_limit_class=row["rate_limit_class"], created_by=row["created_by"],
        created_at=iso(row["created_at"]), revoked_at=iso(row["revoked_at"]),
        keys=[v.ApiKeyView(key_id=k["key_id"], created_at=iso(k["created_at"]), revoked_at=iso(k["revoked_at"]))
              for k in keys],
        version=row["version"],
    )


# -- single reads (None when absent) -------------------------------------------------

async def find_agency(db: Db, agency_id: str) -> v.AgencyView | None:
    row = await db.fetchrow(QUERIES["agency"], agency_id)
    return agency_view(row) if row else None


async def find_issuer(db: Db, issuer_id: str) -> v.IssuerView | None:
    row = await db.fetchrow(QUERIES["issuer"], issuer_id)
    return issuer_view(row) if row else None


async def find_accreditation(db: Db, accreditation_id: str) -> v.AccreditationView | None:
    row = await db.fetchrow(QUERIES["accreditation"], accreditation_id)
    return accreditation_view(row) if row else None


async def find_framework(db: Db, framework_id: str) -> v.FrameworkView | None:
    row = await db.fetchrow(QUERIES["framework"], framework_id)
    return framework_view(row) if row else None


async def find_achievement(db: Db, achievement_id: str) -> v.AchievementView | None:
    row = await db.fetchrow(QUERIES["achievement"], achievement_id)
    return achievement_view(row) if row else None


async def find_pathway(db: Db, pathway_id: str) -> v.PathwayView | None:
    row = await db.fetchrow(QUERIES["pathway"], pathway_id)
    return pathway_view(row) if row else None


async def find_client(db: Db, client_id: str) -> v.ClientView | None:
    row = await db.fetchrow(QUERIES["client"], client_id)
    return client_view(row, await db.fetch(QUERIES["client_keys"], client_id)) if row else None


# -- reads that must find something -------------------------------------------------

async def agency(db: Db, agency_id: str) -> v.AgencyView:
    return _found(await find_agency(db, agency_id), f"there is no agency {agency_id!r}")


async def issuer(db: Db, issuer_id: str) -> v.IssuerView:
    return _found(await find_issuer(db, issuer_id), f"there is no issuer {issuer_id!r}")


async def issuer_did(db: Db, issuer_id: str) -> str:
    return _found(await db.fetchval(QUERIES["issuer_did"], issuer_id), f"there is no issuer {issuer_id!r}")


async def accreditation(db: Db, accreditation_id: str) -> v.AccreditationView:
    return _found(await find_accreditation(db, accreditation_id), f"there is no accreditation {accreditation_id!r}")


async def framework(db: Db, framework_id: str) -> v.FrameworkView:
    return _found(await find_framework(db, framework_id), f"there is no framework {framework_id!r}")


async def achievement(db: Db, achievement_id: str) -> v.AchievementView:
    return _found(await find_achievement(db, achievement_id), f"there is no achievement {achievement_id!r}")


async def pathway(db: Db, pathway_id: str) -> v.PathwayView:
    return _found(await find_pathway(db, pathway_id), f"there is no pathway {pathway_id!r}")


async def client(db: Db, client_id: str) -> v.ClientView:
    return _found(await find_client(db, client_id), f"there is no API client {client_id!r}")


def _found(value: Any, detail: str) -> Any:
    if value is None:
        raise NotFound(detail)
    return value


# -- collections ---------------------------------------------------------------------

async def accreditations_of(db: Db, subject_kind: str, subject_id: str) -> list[v.AccreditationView]:
    return [accreditation_view(r) for r in await db.fetch(QUERIES["accreditations_of"], subject_kind, subject_id)]


async def issuer_key_rows(db: Db, issuer_id: str) -> list[asyncpg.Record]:
    return list(await db.fetch(QUERIES["issuer_keys"], issuer_id))


async def achievements_by_id(db: Db, ids: list[str]) -> dict[str, v.AchievementView]:
    return {r["achievement_id"]: achievement_view(r) for r in await db.fetch(QUERIES["achievements"], ids)}


async def agency_and_descendants(db: Db, agency_id: str) -> list[str]:
    return [r["agency_id"] for r in await db.fetch(QUERIES["agency_and_descendants"], agency_id)]


async def issuers_overseen(db: Db, agency_ids: list[str]) -> list[str]:
    return [r["issuer_id"] for r in await db.fetch(QUERIES["issuers_overseen"], agency_ids)]


async def tenant_registration(db: Db, tenant_id: str) -> tuple[str, str] | None:
    """(registering agency, role) of a tenant that is neither agency nor issuer, once it has a client."""
    row = await db.fetchrow(QUERIES["tenant_registration"], tenant_id)
    return (row["created_by"], row["role"]) if row else None


async def organisations_registered_by(db: Db, agency_ids: list[str]) -> list[str]:
    """Employer and auditor tenants these agencies registered."""
    return [r["tenant_id"] for r in await db.fetch(QUERIES["organisations_registered_by"], agency_ids)]


async def tenant_kind(db: Db, tenant_id: str) -> str | None:
    return await db.fetchval(QUERIES["tenant_kind"], tenant_id)


async def key_owner(db: Db, public_key_multibase: str) -> tuple[str, str] | None:
    row = await db.fetchrow(QUERIES["key_owner"], public_key_multibase)
    return (row["issuer_id"], row["key_id"]) if row else None
