"""HTTP handlers: agencies, accreditations and frameworks."""

from __future__ import annotations

from aiohttp import web

from services.registry import agencies, listing, lookups
from services.registry import schemas as s
from services.registry.http_support import caller_of, created, filters, ok, page, registry, window

ACCREDITATION_STATUSES = ("active", "suspended", "withdrawn")


async def create_agency(request: web.Request, body: s.CreateAgency) -> web.Response:
    return created(await agencies.create_agency(registry(request), caller_of(request), body))


async def list_agencies(request: web.Request) -> web.Response:
    chosen = filters(request, ids=("parent_agency_id",))
    return page(await listing.agencies(registry(request).pool, chosen, window(request)))


async def get_agency(request: web.Request) -> web.Response:
    return ok(await lookups.agency(registry(request).pool, request.match_info["agency_id"]))


async def grant_accreditation(request: web.Request, body: s.GrantAccreditation) -> web.Response:
    return created(await agencies.grant_accreditation(registry(request), caller_of(request), body))


async def list_accreditations(request: web.Request) -> web.Response:
    chosen = filters(request, ACCREDITATION_STATUSES, ("accreditor_id", "subject_id"))
    return page(await listing.accreditations(registry(request).pool, chosen, window(request)))


async def get_accreditation(request: web.Request) -> web.Response:
    return ok(await lookups.accreditation(registry(request).pool, request.match_info["accreditation_id"]))


async def suspend_accreditation(request: web.Request, body: s.SuspendAccreditation) -> web.Response:
    accreditation_id = request.match_info["accreditation_id"]
    return ok(await agencies.suspend_accreditation(registry(request), caller_of(request), accreditation_id, body))


async def reinstate_accreditation(request: web.Request) -> web.Response:
    accreditation_id = request.match_info["accreditation_id"]
    return ok(await agencies.reinstate_accreditation(registry(request), caller_of(request), accreditation_id))


async def withdraw_accreditation(request: web.Request, body: s.WithdrawAccreditation) -> web.Response:
    accreditation_id = request.match_info["accreditation_id"]
    return ok(await agencies.withdraw_accreditation(registry(request), caller_of(request), accreditation_id, body))


async def publish_framework(request: web.Request, body: s.PublishFramework) -> web.Response:
    return created(await agencies.publish_framework(registry(request), caller_of(request), body))


async def list_frameworks(request: web.Request) -> web.Response:
    chosen = filters(request, ids=("agency_id",))
    return page(await listing.frameworks(registry(request).pool, chosen, window(request)))


async def get_framework(request: web.Request) -> web.Response:
    return ok(await lookups.framework(registry(request).pool, request.match_info["framework_id"]))
