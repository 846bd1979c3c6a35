"""HTTP handlers: API clients and their keys."""

from __future__ import annotations

from aiohttp import web

from services.registry import clients, listing
from services.registry import schemas as s
from services.registry.http_support import caller_of, created, filters, ok, page, registry, window

CLIENT_STATUSES = ("active", "revoked")


def _client_id(request: web.Request) -> str:
    return request.match_info["client_id"]


async def create_client(request: web.Request, body: s.CreateClient) -> web.Response:
    return created(await clients.create_client(registry(request), caller_of(request), body))


async def list_clients(request: web.Request) -> web.Response:
    ctx = registry(request)
    everything, tenants = await clients.listing_scope(ctx, caller_of(request))
    chosen = filters(request, CLIENT_STATUSES, ("role",))
    return page(await listing.clients(ctx.pool, chosen, everything, tenants, window(request)))


async def get_client(request: web.Request) -> web.Response:
    return ok(await clients.visible_client(registry(request), caller_of(request), _client_id(request)))


async def issue_key(request: web.Request) -> web.Response:
    return created(await clients.issue_key(registry(request), caller_of(request), _client_id(request)))


async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    return ok(await clients.revoke_key(registry(request), caller_of(request), _client_id(request), key_id))


async def revoke_client(request: web.Request) -> web.Response:
    return ok(await clients.revoke_client(registry(request), caller_of(request), _client_id(request)))
