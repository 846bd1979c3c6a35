"""The registry's Postgres tables, a projection of registry events.

Applied exactly once per event (shared/ledger/delivery/projection.py): the tables
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

from services.registry import recognition_projection
from shared.db.sql import load_queries
from shared.events import CATALOG
from shared.events import registry as ev
from shared.ledger.delivery.projection import PostgresProjection
from shared.ledger.eventstore.events import Metadata, RecordedEvent
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
        QUERIES["apply_agency_created"],
        e.agency_id, e.name, e.jurisdiction, e.parent_agency_id, to_json(e.scope),
        r.version, r.position, _recorded_at(r),
    )


async def _accreditation_granted(conn: asyncpg.Connection, e: ev.AccreditationGranted, r: RecordedEvent) -> None:
    country = await conn.fetchval(
        QUERIES["apply_subject_country"],
        e.subject_id, e.subject_kind,
    )
    await conn.execute(
        QUERIES["apply_accreditation_granted"],
        e.accreditation_id, e.accreditor_id, e.subject_kind, e.subject_id, country or "",
        to_json(e.scope), parse_time(e.valid_from), _time(e.valid_until),
        r.version, r.position, _recorded_at(r),
    )


async def _accreditation_suspended(conn: asyncpg.Connection, e: ev.AccreditationSuspended, r: RecordedEvent) -> None:
    suspension = to_json([{"from": e.at, "until": None, "reason": e.reason}])
    await conn.execute(
        QUERIES["apply_accreditation_suspended"],
        e.accreditation_id, e.reason, suspension, r.version,
    )


async def _accreditation_reinstated(conn: asyncpg.Connection, e: ev.AccreditationReinstated, r: RecordedEvent) -> None:
    # Closes the open (last) suspension at the reinstatement time.
    await conn.execute(
        QUERIES["apply_accreditation_reinstated"],
        e.accreditation_id, e.at, r.version,
    )


async def _accreditation_withdrawn(conn: asyncpg.Connection, e: ev.AccreditationWithdrawn, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_accreditation_withdrawn"],
        e.accreditation_id, e.reason, to_json(e), r.version,
    )


async def _framework_published(conn: asyncpg.Connection, e: ev.FrameworkPublished, r: RecordedEvent) -> None:
    # Publishing again under the same id replaces the framework's content.
    await conn.execute(
        QUERIES["apply_framework_published"],
        e.framework_id, e.agency_id, e.name, e.credit_system, e.hours_per_credit, to_json(e.levels),
        r.version, r.position, _recorded_at(r),
    )


# -- issuers and keys -----------------------------------------------------------

async def _issuer_registered(conn: asyncpg.Connection, e: ev.IssuerRegistered, r: RecordedEvent) -> None:
    at = _recorded_at(r)
    await conn.execute(
        QUERIES["apply_issuer_registered"],
        e.issuer_id, e.registered_by, e.legal_name, e.country, e.did, e.homepage, e.email,
        to_json(e.identifiers), r.version, r.position, at,
    )


async def _issuer_updated(conn: asyncpg.Connection, e: ev.IssuerUpdated, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_issuer_updated"],
        e.issuer_id, e.legal_name, e.homepage, e.email, r.version, _recorded_at(r),
    )


async def _bump_issuer(conn: asyncpg.Connection, issuer_id: str, r: RecordedEvent) -> None:
    await conn.execute(QUERIES["apply_bump_issuer"], issuer_id, r.version)


async def _key_added(conn: asyncpg.Connection, e: ev.IssuerKeyAdded, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_key_added"],
        e.issuer_id, e.key_id, e.public_key_multibase, e.custody, parse_time(e.valid_from),
        _time(e.valid_until), r.position,
    )
    await _bump_issuer(conn, e.issuer_id, r)


async def _key_retired(conn: asyncpg.Connection, e: ev.IssuerKeyRetired, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_key_retired"],
        e.issuer_id, e.key_id, parse_time(e.valid_until),
    )
    await _bump_issuer(conn, e.issuer_id, r)


async def _key_compromised(conn: asyncpg.Connection, e: ev.IssuerKeyCompromised, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_key_compromised"],
        e.issuer_id, e.key_id, parse_time(e.compromised_at), e.reason,
    )
    await _bump_issuer(conn, e.issuer_id, r)


# -- achievements and pathways ---------------------------------------------------

async def _achievement_proposed(conn: asyncpg.Connection, e: ev.AchievementProposed, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_achievement_proposed"],
        e.achievement_id, e.issuer_id, to_json(e.spec), e.spec.country, e.spec.eqf_level,
        r.version, r.position, _recorded_at(r),
    )


async def _achievement_status(
    conn: asyncpg.Connection, achievement_id: str, status: str, r: RecordedEvent,
    *, decided_by: str | None = None, decided_at: dt.datetime | None = None, reason: str = "",
) -> None:
    await conn.execute(
        QUERIES["apply_achievement_status"],
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
        QUERIES["apply_pathway_proposed"],
        e.pathway_id, e.issuer_id, e.title, e.award_achievement_id, to_json(e.rule),
        r.version, r.position, _recorded_at(r),
    )


async def _pathway_approved(conn: asyncpg.Connection, e: ev.PathwayApproved, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_pathway_approved"],
        e.pathway_id, e.agency_id, parse_time(e.at), r.version,
    )


async def _pathway_withdrawn(conn: asyncpg.Connection, e: ev.PathwayWithdrawn, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_pathway_withdrawn"],
        e.pathway_id, e.reason, r.version,
    )


# -- API clients -------------------------------------------------------------------

async def _client_created(conn: asyncpg.Connection, e: ev.ApiClientCreated, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_client_created"],
        e.client_id, e.tenant_id, e.role, e.name, e.rate_limit_class, _recorded_at(r), _tenant_of(r),
        r.version, r.position,
    )


async def _bump_client(conn: asyncpg.Connection, client_id: str, r: RecordedEvent) -> None:
    await conn.execute(QUERIES["apply_bump_client"], client_id, r.version)


async def _api_key_issued(conn: asyncpg.Connection, e: ev.ApiKeyIssued, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_api_key_issued"],
        bytes.fromhex(e.key_hash), e.key_id, e.client_id, _recorded_at(r),
    )
    await _bump_client(conn, e.client_id, r)


async def _api_key_revoked(conn: asyncpg.Connection, e: ev.ApiKeyRevoked, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_api_key_revoked"],
        e.key_id, e.client_id, _recorded_at(r),
    )
    await _bump_client(conn, e.client_id, r)


async def _client_revoked(conn: asyncpg.Connection, e: ev.ApiClientRevoked, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["apply_client_revoked"],
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
    **recognition_projection.HANDLERS,
}
