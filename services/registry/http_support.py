"""HTTP glue shared by the registry's handlers: the caller, query parameters,
and cursors. Domain refusals (shared/refusals.py) become RFC 9457 problems
in the shared problem middleware."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator

from aiohttp import web

from services.registry.context import Caller, RegistryContext
from services.registry.listing import Filters, Listed, Slice
from services.registry.views import Page
from shared.http.body import json_response
from shared.http.endpoints import AUTHENTICATOR_KEY, principal_of
from shared.http.inputs import MAX_POSITION, int_param
from shared.http.middleware import CLIENT_ID_KEY, request_id_of
from shared.http.problem import bad_request
from shared.service import POOL_KEY, SETTINGS_KEY
from shared.untrusted import bounded_int

REGISTRY_KEY = web.AppKey("registry", RegistryContext)


async def registry_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    app[REGISTRY_KEY] = RegistryContext(app[POOL_KEY], settings.public_base_url, settings.master_key)
    yield
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR_PREFIX = "p"

def registry(request: web.Request) -> RegistryContext:
    return request.app[REGISTRY_KEY]


def caller_of(request: web.Request) -> Caller:
    return Caller(principal_of(request), request_id_of(request))


async def optional_caller(request: web.Request) -> Caller | None:
    """On public routes a key is optional: with one, the caller may see more
    (its own unapproved specs); a key that is sent must be valid."""
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return None
    principal = await request.app[AUTHENTICATOR_KEY].authenticate(authorization)
    request[CLIENT_ID_KEY] = principal.client_id
    return Caller(principal, request_id_of(request))


def ok(value: object) -> web.Response:
    return json_response(value)


def created(value: object) -> web.Response:
    return json_response(value, status=201)


# -- query parameters --------------------------------------------------------------

def _choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _int(request: web.Request, name: str, low: int, high: int) -> int | None:
    if request.query.get(name) is None:
        return None
    return int_param(request, name, low=low, high=high)


def _country(request: web.Request) -> str | None:
    value = request.query.get("country")
    if value is not None and not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
        raise bad_request(f"country must be an ISO 3166-1 alpha-2 code such as IE, not {value!r}")
    return value


def filters(request: web.Request, statuses: tuple[str, ...] = (), ids: tuple[str, ...] = ()) -> Filters:
    """The listing filters: status (one of `statuses`), country, EQF level,
    and the id filters named in `ids` (e.g. issuer_id), taken as given."""
    return Filters(
        status=_choice(request, "status", statuses) if statuses else None,
        country=_country(request),
        eqf_level=_int(request, "eqf_level", 1, 8),
        **{name: request.query.get(name) for name in ids},
    )


def window(request: web.Request) -> Slice:
    limit = _int(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    cursor = request.query.get("cursor")
    return Slice(after=_decode_cursor(cursor) if cursor else 0, limit=limit)


def page(listed: Listed) -> web.Response:
    items, after = listed
    return ok(Page(items=items, next_cursor=_encode_cursor(after) if after is not None else None))


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{after}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith(_CURSOR_PREFIX):
            return bounded_int(text[1:], "cursor", low=0, high=MAX_POSITION)
    except (binascii.Error, UnicodeDecodeError, ValueError):  # UntrustedInput is a ValueError
        pass
    raise bad_request("the cursor is not one this API returned; pass next_cursor from the previous page as it is",
                      [{"field": "query parameter cursor", "detail": "not a cursor this API returned"}])


LIST_QUERY = {
    "cursor": "next_cursor of the previous page",
    "limit": f"page size, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})",
}
