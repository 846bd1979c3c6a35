"""The platform's JSON-LD context, served on the public origin at the URL
every credential names (shared/jsonld/contexts.py). Its bytes never change
once published, so clients may cache it for good."""

from __future__ import annotations

from aiohttp import web

from shared.jsonld.contexts import platform_context_bytes

JSON_LD_MEDIA_TYPE = "application/ld+json"


async def platform_context(request: web.Request) -> web.Response:
    return web.Response(body=platform_context_bytes(), content_type=JSON_LD_MEDIA_TYPE, headers={
        "Cache-Control": "public, max-age=31536000, immutable",
        # JSON-LD processors in browsers and wallets fetch contexts cross-origin.
        "Access-Control-Allow-Origin": "*",
    })
