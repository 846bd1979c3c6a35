"""HTTP handlers: achievement specifications and stacking pathways.

Listing and reading are public (approved ones); a caller that sends a key
also sees the unapproved ones it may see, e.g. an agency's review queue
with ?status=proposed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.registry import access, achievement_images, listing, offerings
from services.registry import schemas as s
from services.registry.access import Visibility
from services.registry.http_support import (
    caller_of,
    created,
    filters,
    ok,
    optional_caller,
    page,
    registry,
    window,
)
from services.registry.listing import Filters, Listed, Slice
from services.registry.lookups import Db
from shared.http.body import read_limited

ACHIEVEMENT_STATUSES = ("proposed", "approved", "rejected", "withdrawn")
PATHWAY_STATUSES = ("proposed", "approved", "withdrawn")
Lister = Callable[[Db, Filters, Visibility, Slice], Awaitable[Listed]]


def _achievement_id(request: web.Request) -> str:
    return request.match_info["achievement_id"]


def _pathway_id(request: web.Request) -> str:
    return request.match_info["pathway_id"]


async def propose_achievement(request: web.Request, body: s.ProposeAchievement) -> web.Response:
    return created(await offerings.propose_achievement(registry(request), caller_of(request), body))


async def approve_achievement(request: web.Request) -> web.Response:
    return ok(await offerings.approve_achievement(registry(request), caller_of(request), _achievement_id(request)))


async def reject_achievement(request: web.Request, body: s.Decision) -> web.Response:
    return ok(await offerings.reject_achievement(registry(request), caller_of(request), _achievement_id(request), body))


async def withdraw_achievement(request: web.Request, body: s.Decision) -> web.Response:
    return ok(await offerings.withdraw_achievement(registry(request), caller_of(request), _achievement_id(request), body))


async def _listed(request: web.Request, statuses: tuple[str, ...], lister: Lister) -> web.Response:
    """Achievements or pathways: the approved ones, and the others the caller may see."""
    ctx = registry(request)
    seen = await access.visibility(ctx.pool, await optional_caller(request))
    chosen = filters(request, statuses, ("issuer_id",))
    return page(await lister(ctx.pool, chosen, seen, window(request)))


async def list_achievements(request: web.Request) -> web.Response:
    return await _listed(request, ACHIEVEMENT_STATUSES, listing.achievements)


async def get_achievement(request: web.Request) -> web.Response:
    ctx = registry(request)
    return ok(await offerings.visible_achievement(ctx, await optional_caller(request), _achievement_id(request)))


async def upload_achievement_image(request: web.Request) -> web.Response:
    """PUT the image as the body, typed image/png or image/svg+xml."""
    content = await read_limited(request, achievement_images.MAX_IMAGE_BYTES)
    return ok(await achievement_images.upload_image(
        registry(request), caller_of(request), _achievement_id(request), request.content_type, content))


async def propose_pathway(request: web.Request, body: s.ProposePathway) -> web.Response:
    return created(await offerings.propose_pathway(registry(request), caller_of(request), body))


async def approve_pathway(request: web.Request) -> web.Response:
    return ok(await offerings.approve_pathway(registry(request), caller_of(request), _pathway_id(request)))


async def withdraw_pathway(request: web.Request, body: s.Decision) -> web.Response:
    return ok(await offerings.withdraw_pathway(registry(request), caller_of(request), _pathway_id(request), body))


async def list_pathways(request: web.Request) -> web.Response:
    return await _listed(request, PATHWAY_STATUSES, listing.pathways)


async def get_pathway(request: web.Request) -> web.Response:
    ctx = registry(request)
    return ok(await offerings.visible_pathway(ctx, await optional_caller(request), _pathway_id(request)))
