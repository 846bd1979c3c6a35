"""The internal holdings API (shared/holdings.py), for the wallet: HTTP only.

Registered on the router directly, not in the public OpenAPI document: the
gateway never routes `/internal/`, and each call must prove it comes from a
platform service (a master-key token naming it).
"""

from __future__ import annotations

from aiohttp import web

from services.issuance.handlers import context
from services.issuance.holdings import claim_details, holdings
from services.issuance.store import credential_id_param
from shared.holdings import CLAIM_PATH, HOLDINGS_PATH, SERVICE_HEADER, HoldingsRequest, calling_service
from shared.http.body import json_response, read_json
from shared.http.problem import forbidden, unauthorized
from shared.service import SETTINGS_KEY

CALLERS = frozenset({"wallet"})
BODY_LIMIT = 4096


def add_routes(app: web.Application) -> None:
    app.router.add_post(HOLDINGS_PATH, learner_holdings)
    app.router.add_get(CLAIM_PATH, credential_claim)


def _require_service(request: web.Request) -> None:
    caller = calling_service(request.headers.get(SERVICE_HEADER), request.app[SETTINGS_KEY].master_key)
    if caller is None:
        raise unauthorized(f"internal API: send {SERVICE_HEADER} with a platform service's token")
    if caller not in CALLERS:
        raise forbidden(f"internal API: {caller} may not read holdings")


async def learner_holdings(request: web.Request) -> web.Response:
    _require_service(request)
    body = await read_json(request, HoldingsRequest, BODY_LIMIT)
    return json_response(await holdings(context(request), body.email))


async def credential_claim(request: web.Request) -> web.Response:
    _require_service(request)
    credential_id = credential_id_param(request.match_info["credential_id"])
    return json_response(await claim_details(context(request), credential_id))
