"""Handlers every service exposes beyond the operational routes."""

from __future__ import annotations

from aiohttp import web

from shared.auth import ROLES, Principal
from shared.http.body import json_response
from shared.http.endpoints import Endpoint, principal_of


async def whoami(request: web.Request) -> web.Response:
    return json_response(principal_of(request))


async def auth_check(request: web.Request) -> web.Response:
    """For the gateway's auth_request: 204 and the caller's identity in
    headers when the key is valid, a 401 problem otherwise."""
    principal = principal_of(request)
    return web.Response(status=204, headers={
        "X-Credledger-Client": principal.client_id,
        "X-Credledger-Role": principal.role,
        "X-Credledger-Tenant": principal.tenant_id,
    })


WHOAMI = Endpoint(
    "GET", "/v1/whoami", whoami, "The client, role and tenant of the calling API key",
    response=Principal, roles=frozenset(ROLES), tags=("auth",),
)
AUTH_CHECK = Endpoint(
    "GET", "/v1/auth/check", auth_check,
    "Gateway sub-request: 204 with identity headers for a valid key, 401 otherwise",
    status=204, roles=frozenset(ROLES), tags=("auth",),
)
