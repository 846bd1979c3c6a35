"""Paginated listings. Rows come in ledger order (the position that created
them), so a page boundary is just "after position N": stable while new rows
are appended, and cheap with the unique index on created_position."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.registry import lookups
from services.registry.access import Visibility
from services.registry.lookups import QUERIES, Db


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    country: str | None = None
    eqf_level: int | None = None
    issuer_id: str | None = None
    accreditor_id: str | None = None
    subject_id: str | None = None
    agency_id: str | None = None
    parent_agency_id: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Slice:
    after: int
    limit: int


Listed = tuple[list[Any], int | None]


async def _page(db: Db, query: str, args: list[Any], window: Slice, view: Callable[[Any], Any]) -> Listed:
    rows = await db.fetch(QUERIES[query], window.after, *args, window.limit + 1)
    more = len(rows) > window.limit
    rows = rows[: window.limit]
    return [view(r) for r in rows], (rows[-1]["created_position"] if more else None)


async def agencies(db: Db, f: Filters, window: Slice) -> Listed:
    return await _page(db, "list_agencies", [f.country, f.parent_agency_id], window, lookups.agency_view)


async def accreditations(db: Db, f: Filters, window: Slice) -> Listed:
    args = [f.status, f.country, f.eqf_level, f.accreditor_id, f.subject_id]
    return await _page(db, "list_accreditations", args, window, lookups.accreditation_view)


async def frameworks(db: Db, f: Filters, window: Slice) -> Listed:
    return await _page(db, "list_frameworks", [f.agency_id], window, lookups.framework_view)


async def issuers(db: Db, f: Filters, window: Slice) -> Listed:
    return await _page(db, "list_issuers", [f.country, f.status, f.eqf_level], window, lookups.issuer_view)


async def achievements(db: Db, f: Filters, seen: Visibility, window: Slice) -> Listed:
    return await _page(db, "list_achievements", _visible_args(f, seen), window, lookups.achievement_view)


async def pathways(db: Db, f: Filters, seen: Visibility, window: Slice) -> Listed:
    return await _page(db, "list_pathways", _visible_args(f, seen), window, lookups.pathway_view)


def _visible_args(f: Filters, seen: Visibility) -> list[Any]:
    """The filters and the reader's visibility, as both listings take them."""
    return [f.status, f.country, f.eqf_level, f.issuer_id, seen.everything, list(seen.tenant_ids)]


async def clients(db: Db, f: Filters, everything: bool, tenants: list[str], window: Slice) -> Listed:
    rows, after = await _page(db, "list_clients", [f.role, f.status, everything, tenants], window, dict)
    keys = {r["client_id"]: await db.fetch(QUERIES["client_keys"], r["client_id"]) for r in rows}
    return [lookups.client_view(r, keys[r["client_id"]]) for r in rows], after
