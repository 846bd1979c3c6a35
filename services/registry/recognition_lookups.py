"""Reading the recognition tables into views."""

from __future__ import annotations

import msgspec

from services.registry import recognition_views as rv
from services.registry.listing import Filters, Listed, Slice
from services.registry.lookups import Db, Row, iso
from shared.db.sql import load_queries
from shared.events import recognition as rec
from shared.refusals import NotFound
from shared.timeutil import now

QUERIES = load_queries("services.registry")


def agreement_view(row: Row) -> rv.AgreementView:
    revocation = msgspec.json.decode(row["revocation"], type=rec.RecognitionAgreementRevoked) \
        if row["revocation"] else None
    view = rv.AgreementView(
        agreement_id=row["agreement_id"], title=row["title"], recognising_kind=row["recognising_kind"],
        recognising_id=row["recognising_id"], pathway_ids=msgspec.json.decode(row["pathway_ids"]),
        match=msgspec.json.decode(row["match"], type=rec.CredentialMatch), valid_from=iso(row["valid_from"]),
        valid_until=iso(row["valid_until"]), max_credential_age_days=row["max_credential_age_days"],
        credit_value=row["credit_value"], on_revoked=row["on_revoked"], status=row["status"], in_force=False,
        revocation=revocation, created_at=iso(row["created_at"]), version=row["version"],
    )
    moment = now()
    view.in_force = (row["valid_from"] <= moment and (row["valid_until"] is None or moment < row["valid_until"])
                     and revocation is None)
    return view


async def agreement(db: Db, agreement_id: str) -> rv.AgreementView:
    row = await db.fetchrow(QUERIES["recognition_agreement"], agreement_id)
    if row is None:
        raise NotFound(f"there is no recognition agreement {agreement_id!r}")
    return agreement_view(row)


async def agreements(db: Db, f: Filters, window: Slice) -> Listed:
    rows = await db.fetch(QUERIES["list_recognition_agreements"], window.after, f.status, f.issuer_id or f.agency_id,
                          window.limit + 1)
    more = len(rows) > window.limit
    rows = rows[:window.limit]
    return [agreement_view(r) for r in rows], rows[-1]["created_position"] if more else None


def referencing_view(row: Row) -> rv.ReferencingView:
    return rv.ReferencingView(
        framework_id=row["framework_id"], version=row["version"], agency_id=row["agency_id"],
        target_framework_id=row["target_framework_id"],
        mappings=msgspec.json.decode(row["mappings"], type=list[rec.LevelMapping]),
        report_url=row["report_url"], published_at=iso(row["published_at"]),
    )


async def referencing(db: Db, framework_id: str) -> rv.FrameworkReferencing:
    history = [referencing_view(r) for r in await db.fetch(QUERIES["framework_references"], framework_id)]
    newest = {view.target_framework_id: view for view in history}
    return rv.FrameworkReferencing(framework_id=framework_id, current=list(newest.values()), history=history)


async def references(db: Db, f: Filters, window: Slice) -> Listed:
    rows = await db.fetch(QUERIES["list_framework_references"], window.after, f.agency_id, window.limit + 1)
    more = len(rows) > window.limit
    rows = rows[:window.limit]
    return [referencing_view(r) for r in rows], rows[-1]["position"] if more else None


async def endorser(db: Db, endorser_id: str) -> rv.EndorserView:
    row = await db.fetchrow(QUERIES["endorser"], endorser_id)
    if row is None:
        raise NotFound(f"there is no endorser {endorser_id!r}")
    return rv.EndorserView(endorser_id=row["endorser_id"], agency_id=row["agency_id"],
                           registered_at=iso(row["registered_at"]))
