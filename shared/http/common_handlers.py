"""Handlers every service exposes beyond the operational routes."""

from __future__ import annotations

from aiohttp import web

from shared.auth import ROLES
from shared.http.body import json_response
from shared.http.endpoints import Endpoint, principal_of
from shared.auth import Principal


async def whoami(request: web.Request) -> web.Response:
    return json_response(principal_of(request))


WHOAMI = Endpoint(
    "GET", "/v1/whoami", whoami, "The client, role and tenant of the calling API key",
    response=Principal, roles=frozenset(ROLES), tags=("auth",),
)
