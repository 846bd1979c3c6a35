"""The registry's Postgres tables, a projection of registry events.

Applied exactly once per event (shared/ledger/projection.py): the tables
are always what the ledger says, and can be rebuilt from it. Every time a
row holds comes from an event or its metadata, never from the clock, so a
rebuild produces the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from shared.db.sql import load_queries
from shared.events import CATALOG
from shared.events import registry as ev
from shared.ledger.events import Metadata, RecordedEvent
from shared.ledger.projection import PostgresProjection
from shared.timeutil import parse_time

QUERIES = load_queries("services.registry")

PROJECTION_NAME = "registry.tables"
REGISTRY_PREFIX = "registry."

Handler = Callable[[asyncpg.Connection, Any, RecordedEvent], Awaitable[None]]

def to_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _time(text: str | None) -> dt.datetime | None:
    return parse_time(text) if text else None


def _recorded_at(event: RecordedEvent) -> dt.datetime:
    return parse_time(msgspec.json.decode(bytes(event.metadata), type=Metadata).recorded_at)


def _tenant_of(event: RecordedEvent) -> str:
    return msgspec.json.decode(bytes(event.metadata), type=Metadata).tenant


class RegistryTablesProjection(PostgresProjection):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, PROJECTION_NAME)

    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        if not event.event_type.startswith(REGISTRY_PREFIX):
            return
        decoded = CATALOG.decode(event)
        handler = _HANDLERS.get(type(decoded))
        if handler is not None:
            await handler(conn, decoded, event)

    async def catch_up_in(self, conn: asyncpg.Connection) -> None:
        """Bring the tables up to the ledger head inside the caller's transaction.

        A registry write calls this right after its append, while it still
        holds the ledger's append lock, so the head cannot move: the tables
        commit together with the events (a read after the write sees it) and
        the progress row says so, so the runner that follows Kafka later
        skips them. Only registry events are read; the rest change nothing here.
        """
        await self.apply_through_head(conn, REGISTRY_PREFIX + "%")


# -- agencies, accreditations, frameworks ------------------------------------

async def _agency_created(conn: asyncpg.Connection, e: ev.AgencyCreated, r: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.agencies (agency_id, name, jurisdiction, parent_agency_id, scope,"
        " version, created_position, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)",
        e.agency_id, e.name, e.jurisdiction, e.parent_agency_id, to_json(e.scope),
        r.version, r.position, _recorded_at(r),
    )


async def _accreditation_granted(conn: asyncpg.Connection, e: ev.AccreditationGranted, r: RecordedEvent) -> None:
    country = await conn.fetchval(
        "SELECT country FROM registry.issuers WHERE issuer_id = $1 AND $2 = 'issuer'"
        " UNION ALL SELECT jurisdiction FROM registry.agencies WHERE agency_id = $1 AND $2 = 'agency'",
        e.subject_id, e.subject_kind,
    )
    await conn.execute(
        "INSERT INTO registry.accreditations (accreditation_id, accreditor_id, subject_kind, subject_id,"
        " country, scope, valid_from, valid_until, status, version, created_position, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, 'active', $9, $10, $11)",
        e.accreditation_id, e.accreditor_id, e.subject_kind, e.subject_id, country or "",
        to_json(e.scope), parse_time(e.valid_from), _time(e.valid_until),
        r.version, r.position, _recorded_at(r),
    )


async def _accreditation_suspended(conn: asyncpg.Connection, e: ev.AccreditationSuspended, r: RecordedEvent) -> None:
    suspension = to_json([{"from": e.at, "until": None, "reason": e.reason}])
    await conn.execute(
        "UPDATE registry.accreditations SET status = 'suspended', status_reason = $2,"
        " suspensions = suspensions || $3::jsonb, version = $4 WHERE accreditation_id = $1",
        e.accreditation_id, e.reason, suspension, r.version,
    )


async def _accreditation_reinstated(conn: asyncpg.Connection, e: ev.AccreditationReinstated, r: RecordedEvent) -> None:
    # Closes the open (last) suspension at the reinstatement time.
    await conn.execute(
        "UPDATE registry.accreditations SET status = 'active', status_reason = '',"
        " suspensions = jsonb_set(suspensions, '{-1,until}', to_jsonb($2::text)), version = $3"
        " WHERE accreditation_id = $1",
        e.accreditation_id, e.at, r.version,
    )


async def _accreditation_withdrawn(conn: asyncpg.Connection, e: ev.AccreditationWithdrawn, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.accreditations SET status = 'withdrawn', status_reason = $2,"
        " withdrawal = $3::jsonb, version = $4 WHERE accreditation_id = $1",
        e.accreditation_id, e.reason, to_json(e), r.version,
    )


async def _framework_published(conn: asyncpg.Connection, e: ev.FrameworkPublished, r: RecordedEvent) -> None:
    # Publishing again under the same id replaces the framework's content.
    await conn.execute(
        "INSERT INTO registry.frameworks (framework_id, agency_id, name, credit_system, hours_per_credit,"
        " levels, version, created_position, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)"
        " ON CONFLICT (framework_id) DO UPDATE SET name = EXCLUDED.name, credit_system = EXCLUDED.credit_system,"
        " hours_per_credit = EXCLUDED.hours_per_credit, levels = EXCLUDED.levels, version = EXCLUDED.version",
        e.framework_id, e.agency_id, e.name, e.credit_system, e.hours_per_credit, to_json(e.levels),
        r.version, r.position, _recorded_at(r),
    )


# -- issuers and keys -----------------------------------------------------------

async def _issuer_registered(conn: asyncpg.Connection, e: ev.IssuerRegistered, r: RecordedEvent) -> None:
    at = _recorded_at(r)
    await conn.execute(
        "INSERT INTO registry.issuers (issuer_id, registered_by, legal_name, country, did, homepage, email,"
        " identifiers, version, created_position, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $11)",
        e.issuer_id, e.registered_by, e.legal_name, e.country, e.did, e.homepage, e.email,
        to_json(e.identifiers), r.version, r.position, at,
    )


async def _issuer_updated(conn: asyncpg.Connection, e: ev.IssuerUpdated, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.issuers SET legal_name = $2, homepage = $3, email = $4, version = $5, updated_at = $6"
        " WHERE issuer_id = $1",
        e.issuer_id, e.legal_name, e.homepage, e.email, r.version, _recorded_at(r),
    )


async def _bump_issuer(conn: asyncpg.Connection, issuer_id: str, r: RecordedEvent) -> None:
    await conn.execute("UPDATE registry.issuers SET version = $2 WHERE issuer_id = $1", issuer_id, r.version)


async def _key_added(conn: asyncpg.Connection, e: ev.IssuerKeyAdded, r: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.issuer_keys (issuer_id, key_id, public_key_multibase, custody, valid_from,"
        " valid_until, added_position) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        e.issuer_id, e.key_id, e.public_key_multibase, e.custody, parse_time(e.valid_from),
        _time(e.valid_until), r.position,
    )
    await _bump_issuer(conn, e.issuer_id, r)


async def _key_retired(conn: asyncpg.Connection, e: ev.IssuerKeyRetired, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.issuer_keys SET valid_until = $3 WHERE issuer_id = $1 AND key_id = $2",
        e.issuer_id, e.key_id, parse_time(e.valid_until),
    )
    await _bump_issuer(conn, e.issuer_id, r)


async def _key_compromised(conn: asyncpg.Connection, e: ev.IssuerKeyCompromised, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.issuer_keys SET compromised_at = $3, compromise_reason = $4"
        " WHERE issuer_id = $1 AND key_id = $2",
        e.issuer_id, e.key_id, parse_time(e.compromised_at), e.reason,
    )
    await _bump_issuer(conn, e.issuer_id, r)


# -- achievements and pathways ---------------------------------------------------

async def _achievement_proposed(conn: asyncpg.Connection, e: ev.AchievementProposed, r: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.achievements (achievement_id, issuer_id, status, spec, country, eqf_level,"
        " version, created_position, created_at) VALUES ($1, $2, 'proposed', $3::jsonb, $4, $5, $6, $7, $8)",
        e.achievement_id, e.issuer_id, to_json(e.spec), e.spec.country, e.spec.eqf_level,
        r.version, r.position, _recorded_at(r),
    )


async def _achievement_status(
    conn: asyncpg.Connection, achievement_id: str, status: str, r: RecordedEvent,
    *, decided_by: str | None = None, decided_at: dt.datetime | None = None, reason: str = "",
) -> None:
    await conn.execute(
        "UPDATE registry.achievements SET status = $2, decided_by = coalesce($3, decided_by),"
        " decided_at = coalesce($4, decided_at), status_reason = $5, version = $6 WHERE achievement_id = $1",
        achievement_id, status, decided_by, decided_at, reason, r.version,
    )


async def _achievement_approved(conn: asyncpg.Connection, e: ev.AchievementApproved, r: RecordedEvent) -> None:
    await _achievement_status(conn, e.achievement_id, "approved", r,
                              decided_by=e.agency_id, decided_at=parse_time(e.at))


async def _achievement_rejected(conn: asyncpg.Connection, e: ev.AchievementRejected, r: RecordedEvent) -> None:
    await _achievement_status(conn, e.achievement_id, "rejected", r, decided_by=e.agency_id,
                              decided_at=_recorded_at(r), reason=e.reason)


async def _achievement_withdrawn(conn: asyncpg.Connection, e: ev.AchievementWithdrawn, r: RecordedEvent) -> None:
    await _achievement_status(conn, e.achievement_id, "withdrawn", r, reason=e.reason)


async def _achievement_image(conn: asyncpg.Connection, e: ev.AchievementImageUploaded, r: RecordedEvent) -> None:
    await conn.execute(QUERIES["put_achievement_image"], e.achievement_id, e.media_type, e.content, e.sha256,
                       _recorded_at(r))
    await conn.execute(QUERIES["bump_achievement_version"], e.achievement_id, r.version)


async def _pathway_proposed(conn: asyncpg.Connection, e: ev.PathwayProposed, r: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.pathways (pathway_id, issuer_id, title, award_achievement_id, rule, status,"
        " version, created_position, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, 'proposed', $6, $7, $8)",
        e.pathway_id, e.issuer_id, e.title, e.award_achievement_id, to_json(e.rule),
        r.version, r.position, _recorded_at(r),
    )


async def _pathway_approved(conn: asyncpg.Connection, e: ev.PathwayApproved, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.pathways SET status = 'approved', decided_by = $2, decided_at = $3, version = $4"
        " WHERE pathway_id = $1",
        e.pathway_id, e.agency_id, parse_time(e.at), r.version,
    )


async def _pathway_withdrawn(conn: asyncpg.Connection, e: ev.PathwayWithdrawn, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.pathways SET status = 'withdrawn', status_reason = $2, version = $3 WHERE pathway_id = $1",
        e.pathway_id, e.reason, r.version,
    )


# -- API clients -------------------------------------------------------------------

async def _client_created(conn: asyncpg.Connection, e: ev.ApiClientCreated, r: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.api_clients (client_id, tenant_id, role, name, rate_limit_class, created_at,"
        " created_by, version, created_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        e.client_id, e.tenant_id, e.role, e.name, e.rate_limit_class, _recorded_at(r), _tenant_of(r),
        r.version, r.position,
    )


async def _bump_client(conn: asyncpg.Connection, client_id: str, r: RecordedEvent) -> None:
    await conn.execute("UPDATE registry.api_clients SET version = $2 WHERE client_id = $1", client_id, r.version)


async def _api_key_issued(conn: asyncpg.Connection, e: ev.ApiKeyIssued, r: RecordedEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.api_keys (key_hash, key_id, client_id, created_at) VALUES ($1, $2, $3, $4)",
        bytes.fromhex(e.key_hash), e.key_id, e.client_id, _recorded_at(r),
    )
    await _bump_client(conn, e.client_id, r)


async def _api_key_revoked(conn: asyncpg.Connection, e: ev.ApiKeyRevoked, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.api_keys SET revoked_at = $3 WHERE key_id = $1 AND client_id = $2",
        e.key_id, e.client_id, _recorded_at(r),
    )
    await _bump_client(conn, e.client_id, r)


async def _client_revoked(conn: asyncpg.Connection, e: ev.ApiClientRevoked, r: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE registry.api_clients SET revoked_at = $2, version = $3 WHERE client_id = $1",
        e.client_id, _recorded_at(r), r.version,
    )


_HANDLERS: dict[type, Handler] = {
    ev.AgencyCreated: _agency_created,
    ev.AccreditationGranted: _accreditation_granted,
    ev.AccreditationSuspended: _accreditation_suspended,
    ev.AccreditationReinstated: _accreditation_reinstated,
    ev.AccreditationWithdrawn: _accreditation_withdrawn,
    ev.FrameworkPublished: _framework_published,
    ev.IssuerRegistered: _issuer_registered,
    ev.IssuerUpdated: _issuer_updated,
    ev.IssuerKeyAdded: _key_added,
    ev.IssuerKeyRetired: _key_retired,
    ev.IssuerKeyCompromised: _key_compromised,
    ev.AchievementProposed: _achievement_proposed,
    ev.AchievementApproved: _achievement_approved,
    ev.AchievementRejected: _achievement_rejected,
    ev.AchievementWithdrawn: _achievement_withdrawn,
    ev.AchievementImageUploaded: _achievement_image,
    ev.PathwayProposed: _pathway_proposed,
    ev.PathwayApproved: _pathway_approved,
    ev.PathwayWithdrawn: _pathway_withdrawn,
    ev.ApiClientCreated: _client_created,
    ev.ApiKeyIssued: _api_key_issued,
    ev.ApiKeyRevoked: _api_key_revoked,
    ev.ApiClientRevoked: _client_revoked,
}
