"""HTTP handlers: issuers, their keys and their DID documents."""

from __future__ import annotations

from aiohttp import web

from services.registry import documents, issuers, listing, lookups
from services.registry import schemas as s
from services.registry.http_support import caller_of, created, filters, ok, page, registry, window
from shared.http.body import json_response

ISSUER_STATUSES = ("accredited", "unaccredited")


def _issuer_id(request: web.Request) -> str:
    return request.match_info["issuer_id"]


async def register_issuer(request: web.Request, body: s.RegisterIssuer) -> web.Response:
    return created(await issuers.register_issuer(registry(request), caller_of(request), body))


async def update_issuer(request: web.Request, body: s.UpdateIssuer) -> web.Response:
    return ok(await issuers.update_issuer(registry(request), caller_of(request), _issuer_id(request), body))


async def list_issuers(request: web.Request) -> web.Response:
    chosen = filters(request, ISSUER_STATUSES)
    return page(await listing.issuers(registry(request).pool, chosen, window(request)))


async def get_issuer(request: web.Request) -> web.Response:
    return ok(await issuers.issuer_profile(registry(request), _issuer_id(request)))


async def did_document(request: web.Request) -> web.Response:
    pool, issuer_id = registry(request).pool, _issuer_id(request)
    did = await lookups.issuer_did(pool, issuer_id)
    document = documents.did_document(did, await lookups.issuer_key_rows(pool, issuer_id))
    # Short caching: a compromise must reach resolvers quickly.
    return json_response(document, headers={"Cache-Control": "public, max-age=60"})


async def list_keys(request: web.Request) -> web.Response:
    profile = await issuers.issuer_profile(registry(request), _issuer_id(request))
    return ok(profile.keys)


async def add_key(request: web.Request, body: s.AddKey) -> web.Response:
    return created(await issuers.add_key(registry(request), caller_of(request), _issuer_id(request), body))


async def rotate_key(request: web.Request, body: s.RotateKey) -> web.Response:
    key_id = request.match_info["key_id"]
    return created(await issuers.rotate_key(registry(request), caller_of(request), _issuer_id(request), key_id, body))


async def retire_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    return ok(await issuers.retire_key(registry(request), caller_of(request), _issuer_id(request), key_id))


async def compromise_key(request: web.Request, body: s.CompromiseKey) -> web.Response:
    key_id = request.match_info["key_id"]
    return ok(await issuers.compromise_key(registry(request), caller_of(request), _issuer_id(request), key_id, body))
