"""The employer portal's application factory and routes.

The portal is pages for people (shared/web: sessions, CSRF, emailed
sign-in) mounted at /employer on a service app that has the usual
operational routes. Every check goes to the verification service's API
with the employer's own key (verification_client.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.employer import handlers
from services.employer.checks import Tracker
from services.employer.organisations import user_for_email
from services.employer.portal import PORTAL_KEY, Portal
from services.employer.verification_client import VerificationClient
from shared.background import BackgroundLoop, running
from shared.http.common_handlers import WHOAMI
from shared.key_vault import KeyVault
from shared.service import LOOPS_KEY, POOL_KEY, SETTINGS_KEY, create_service_app
from shared.settings import Settings
from shared.web.pages import Realm, create_pages_app

PREFIX = "/employer"




async def _may_sign_in(app: web.Application, address: str) -> bool:
    return await user_for_email(app[PORTAL_KEY].pool, address) is not None


REALM = Realm(
    name="employer", prefix=PREFIX, title="Employer portal", template_package="services.employer",
    may_sign_in=_may_sign_in, nav=(("Checks", "/"), ("Colleagues", "/colleagues")), home="/",
)


def _portal_ctx(portal: Portal):
    async def open_portal(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS_KEY]
        portal.pool = app[POOL_KEY]
        portal.vault = KeyVault(settings.master_key)
        # Long reads: a 100,000-row file uploads and its answers stream back through this session.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5,
                                                                       sock_read=120)) as session:
            portal.client = VerificationClient(session, settings.verification_url or _local(settings))
            portal.tracker = Tracker(portal.pool, portal.client, portal.api_key)
            loop = BackgroundLoop("check_tracker", portal.tracker.run)
            app[LOOPS_KEY].append(loop)
            async with running(loop):
                yield

    return open_portal


def _local(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0") else settings.host
    return f"http://{host}:{settings.verification_port}"


async def _to_portal(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX + "/")


def create_app(settings: Settings) -> web.Application:
    portal = Portal()
    app = create_service_app(settings, "employer", [WHOAMI], contexts=[_portal_ctx(portal)])
    pages = create_pages_app(app, settings, REALM)
    pages[PORTAL_KEY] = portal
    handlers.add_routes(pages)
    app.router.add_get(PREFIX, _to_portal)
    app.add_subapp(PREFIX, pages)
    return app
