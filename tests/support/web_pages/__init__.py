"""A minimal realm for the shared web foundation's tests (shared/web/)."""

from __future__ import annotations

from aiohttp import web

from shared.service import create_service_app
from shared.settings import Settings
from shared.web.pages import Realm, create_pages_app, render, signed_in_subject

KNOWN = "known@example.org"


async def only_known(app: web.Application, address: str) -> bool:
    return address == KNOWN


async def home(request: web.Request) -> web.Response:
    subject = signed_in_subject(request)
    return await render(request, "test_home.html", {"subject_length": len(subject)})


async def echo(request: web.Request) -> web.Response:
    signed_in_subject(request)
    return web.json_response({"posted": True})


REALM = Realm(name="webtest", prefix="/webtest", title="Test pages", template_package="tests.support.web_pages",
              may_sign_in=only_known, nav=(("Home", "/"),))


def create_app(settings: Settings) -> web.Application:
    app = create_service_app(settings, "webtest", [])
    pages = create_pages_app(app, settings, REALM)
    pages.router.add_get("/", home)
    pages.router.add_post("/echo", echo)
    app.add_subapp(REALM.prefix, pages)
    return app
