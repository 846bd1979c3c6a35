"""Declaring endpoints once: the route, its body and response types, its roles.

Each service lists its `Endpoint`s; `add_endpoints` registers them with
authentication and body decoding, and the OpenAPI document is generated from
the same list, so the docs cannot drift from what the handlers accept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.auth import Authenticator, Principal, require_role
from shared.events.registry import Role
from shared.http.body import read_json
from shared.http.middleware import CLIENT_ID_KEY, request_id_of
from shared.ledger.eventstore.events import Metadata

AUTHENTICATOR_KEY = web.AppKey("authenticator", Authenticator)
BODY_LIMIT_KEY = web.AppKey("body_limit", int)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Callable[..., Awaitable[web.StreamResponse]]
    summary: str
    # A msgspec type: decoded from the JSON body and passed to the handler.
    body: Any = None
    response: Any = None
    status: int = 200
    # None means public (no key needed).
    roles: frozenset[Role] | None = None
    tags: tuple[str, ...] = ()
    body_limit: int | None = None
    # Media types documented for non-JSON responses (HTML pages, NDJSON, text).
    produces: str = "application/json"
    query: dict[str, str] = field(default_factory=dict)


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


def request_metadata(request: web.Request, principal: Principal | None = None, tenant: str | None = None) -> Metadata:
    """The metadata of the events a request causes: its caller and request id."""
    return (principal or principal_of(request)).metadata(request_id_of(request), tenant)


async def optional_principal(request: web.Request) -> Principal | None:
    """The caller's API key identity on a public route, when it sent one (a
    wrong key is a 401): for routes a holder reaches with a token instead."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    principal = await request.app[AUTHENTICATOR_KEY].authenticate(header)
    request[CLIENT_ID_KEY] = principal.client_id
    return principal


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if endpoint.roles is not None:
            principal = await request.app[AUTHENTICATOR_KEY].authenticate(
                request.headers.get("Authorization")
            )
            request[PRINCIPAL_KEY] = principal
            request[CLIENT_ID_KEY] = principal.client_id
            require_role(principal, endpoint.roles)
        if endpoint.body is None:
            return await endpoint.handler(request)
        limit = endpoint.body_limit or request.app[BODY_LIMIT_KEY]
        return await endpoint.handler(request, await read_json(request, endpoint.body, limit))

    handle.__name__ = endpoint.handler.__name__
    return handle


def add_endpoints(app: web.Application, endpoints: Sequence[Endpoint]) -> None:
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint), name=endpoint.handler.__name__)
