"""The wallet's pages (HTTP only; what they show comes from the domain modules)."""

from __future__ import annotations

from aiohttp import web

from shared.web.pages import render, signed_in_subject


def add_routes(pages: web.Application) -> None:
    pages.router.add_get("/", home)


async def home(request: web.Request) -> web.Response:
    signed_in_subject(request)
    return await render(request, "wallet/home.html", {"credentials": []})
