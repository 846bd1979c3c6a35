"""HTTP handlers for the learner's credit account (credit_account.py) and endorsements (endorsing.py)."""

from __future__ import annotations

from aiohttp import web

from services.issuance import credit_account, endorsing
from services.issuance import credit_schemas as cs
from services.issuance.handlers import context
from shared.http.body import json_response
from shared.http.endpoints import principal_of
from shared.http.middleware import request_id_of


async def read_account(request: web.Request, body: cs.LearnerProof) -> web.Response:
    ctx = context(request)
    return json_response(await credit_account.account(ctx, await credit_account.learner_of(ctx, body)))


async def share_account(request: web.Request, body: cs.ShareAccount) -> web.Response:
    shared = await credit_account.share(context(request), body, request_id_of(request))
    return json_response(shared, status=201)


async def revoke_share(request: web.Request, body: cs.LearnerProof) -> web.Response:
    await credit_account.unshare(context(request), request.match_info["grant_id"], body, request_id_of(request))
    return web.Response(status=204)


async def granted_account(request: web.Request) -> web.Response:
    ctx = context(request)
    return json_response(await credit_account.granted_account(ctx, principal_of(request),
                                                              request.match_info["grant_id"]))


async def endorse(request: web.Request, body: endorsing.EndorseRequest) -> web.Response:
    endorsed = await endorsing.endorse(context(request), principal_of(request), body, request_id_of(request))
    return json_response(endorsed, status=201)
