"""The recognition and endorser tables, a projection of their events (applied by
services/registry/projection.py's RegistryTablesProjection, in its transaction)."""

from __future__ import annotations

import asyncpg
import msgspec

from shared.db.sql import load_queries
from shared.events import endorsements as endo
from shared.events import recognition as rec
from shared.ledger.eventstore.events import Metadata, RecordedEvent
from shared.timeutil import parse_time

QUERIES = load_queries("services.registry")


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _recorded_at(r: RecordedEvent):
    return parse_time(msgspec.json.decode(bytes(r.metadata), type=Metadata).recorded_at)


async def declared(conn: asyncpg.Connection, e: rec.RecognitionAgreementDeclared, r: RecordedEvent) -> None:
    await conn.execute(
        QUERIES["insert_recognition_agreement"], e.agreement_id, e.recognising_kind, e.recognising_id, e.title,
        _json(e.pathway_ids), _json(e.match), parse_time(e.valid_from),
        parse_time(e.valid_until) if e.valid_until else None, e.max_credential_age_days, e.credit_value,
        e.on_revoked, r.version, r.position, _recorded_at(r),
    )


async def revoked(conn: asyncpg.Connection, e: rec.RecognitionAgreementRevoked, r: RecordedEvent) -> None:
    await conn.execute(QUERIES["revoke_recognition_agreement"], e.agreement_id, _json(e), r.version)


async def referenced(conn: asyncpg.Connection, e: rec.FrameworkReferenced, r: RecordedEvent) -> None:
    await conn.execute(QUERIES["insert_framework_reference"], e.framework_id, r.version, e.agency_id,
                       e.target_framework_id, _json(e.mappings), e.report_url, parse_time(e.at), r.position)


async def endorser(conn: asyncpg.Connection, e: endo.EndorserRegistered, r: RecordedEvent) -> None:
    await conn.execute(QUERIES["insert_endorser"], e.endorser_id, e.agency_id, parse_time(e.at), r.position)


HANDLERS = {
    endo.EndorserRegistered: endorser,
    rec.RecognitionAgreementDeclared: declared,
    rec.RecognitionAgreementRevoked: revoked,
    rec.FrameworkReferenced: referenced,
}
