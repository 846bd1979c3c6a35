"""HTTP handlers: recognition agreements, framework referencing and endorsers (all readable publicly)."""

from __future__ import annotations

from aiohttp import web

from services.registry import lookups, recognition, recognition_lookups
from services.registry import recognition_views as rv
from services.registry.http_support import caller_of, created, filters, ok, page, registry, window

AGREEMENT_STATUSES = ("declared", "revoked")


async def declare_agreement(request: web.Request, body: rv.DeclareAgreement) -> web.Response:
    return created(await recognition.declare_agreement(registry(request), caller_of(request), body))


async def revoke_agreement(request: web.Request, body: rv.RevokeAgreement) -> web.Response:
    agreement_id = request.match_info["agreement_id"]
    return ok(await recognition.revoke_agreement(registry(request), caller_of(request), agreement_id, body))


async def list_agreements(request: web.Request) -> web.Response:
    chosen = filters(request, AGREEMENT_STATUSES, ("issuer_id", "agency_id"))
    return page(await recognition_lookups.agreements(registry(request).pool, chosen, window(request)))


async def get_agreement(request: web.Request) -> web.Response:
    return ok(await recognition_lookups.agreement(registry(request).pool, request.match_info["agreement_id"]))


async def reference_framework(request: web.Request, body: rv.ReferenceFramework) -> web.Response:
    framework_id = request.match_info["framework_id"]
    return created(await recognition.reference_framework(registry(request), caller_of(request), framework_id, body))


async def get_referencing(request: web.Request) -> web.Response:
    framework = await lookups.framework(registry(request).pool, request.match_info["framework_id"])
    return ok(await recognition_lookups.referencing(registry(request).pool, framework.framework_id))


async def list_referencing(request: web.Request) -> web.Response:
    chosen = filters(request, ids=("agency_id",))
    return page(await recognition_lookups.references(registry(request).pool, chosen, window(request)))


async def register_endorser(request: web.Request, body: rv.RegisterEndorser) -> web.Response:
    return created(await recognition.register_endorser(registry(request), caller_of(request), body))


async def get_endorser(request: web.Request) -> web.Response:
    return ok(await recognition_lookups.endorser(registry(request).pool, request.match_info["endorser_id"]))
