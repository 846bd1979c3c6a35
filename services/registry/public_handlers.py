"""The ids credentials name, answered on the public origin: each as JSON-LD
for machines, or as a plain page for a browser (Accept: text/html)."""

from __future__ import annotations

from aiohttp import web

from services.registry import achievement_images, documents, lookups, offerings, public_pages
from services.registry import views as v
from services.registry.http_support import optional_caller, registry
from shared.http.representation import document_response, prefers_html
from shared.ob3_objects import achievement_url, framework_url

PUBLIC_CACHE = {"Cache-Control": "public, max-age=300"}


async def achievement(request: web.Request) -> web.Response:
    """`/achievements/{id}`, the id inside credentials: approved achievements,
    and withdrawn ones credentials were issued for."""
    ctx = registry(request)
    return await _achievement(request, await offerings.published_achievement(ctx, _achievement_id(request)))


async def open_badges_achievement(request: web.Request) -> web.Response:
    """`/v1/achievements/{id}/ob3`: the same document; with a key, also the
    caller's unapproved ones."""
    ctx, caller = registry(request), await optional_caller(request)
    return await _achievement(request, await offerings.visible_achievement(ctx, caller, _achievement_id(request)))


def _achievement_id(request: web.Request) -> str:
    return request.match_info["achievement_id"]


async def _achievement(request: web.Request, found: v.AchievementView) -> web.Response:
    ctx = registry(request)
    issuer = await lookups.issuer(ctx.pool, found.issuer_id)
    if prefers_html(request):
        return public_pages.achievement_page(found, issuer, achievement_url(ctx.public_base_url, found.achievement_id))
    framework_id = found.spec.framework_id
    frameworks = {framework_id: await lookups.framework(ctx.pool, framework_id)} if framework_id else {}
    uploaded = await achievement_images.has_image(ctx.pool, found.achievement_id)
    return document_response(
        documents.achievement_document(found, issuer, frameworks, ctx.public_base_url, uploaded_image=uploaded),
        headers=PUBLIC_CACHE)


async def achievement_image(request: web.Request) -> web.Response:
    """The uploaded badge image of an approved achievement. SVG is served
    with a policy that forbids scripts even if one slipped past vetting."""
    ctx = registry(request)
    found = await offerings.published_achievement(ctx, _achievement_id(request))
    row = await achievement_images.image(ctx.pool, found.achievement_id)
    return web.Response(body=bytes(row["content"]), headers={
        "Content-Type": row["media_type"], "ETag": f'"{row["sha256"]}"', **PUBLIC_CACHE,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
    })



async def issuer_profile(request: web.Request) -> web.Response:
    ctx = registry(request)
    issuer = await lookups.issuer(ctx.pool, request.match_info["issuer_id"])
    if prefers_html(request):
        return public_pages.profile_page(issuer, f"{ctx.public_base_url.rstrip('/')}/issuers/{issuer.issuer_id}")
    return document_response(documents.profile_document(issuer, ctx.public_base_url), headers=PUBLIC_CACHE)


async def framework(request: web.Request) -> web.Response:
    ctx = registry(request)
    found = await lookups.framework(ctx.pool, request.match_info["framework_id"])
    if prefers_html(request):
        return public_pages.framework_page(found, framework_url(ctx.public_base_url, found.framework_id))
    return document_response(documents.framework_document(found, ctx.public_base_url), headers=PUBLIC_CACHE)
