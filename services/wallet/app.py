"""The learner wallet's application factory: pages under /wallet."""

from __future__ import annotations

from aiohttp import web

from services.wallet import handlers
from shared.service import create_service_app
from shared.settings import Settings
from shared.web.pages import Realm, create_pages_app

WALLET = Realm(name="wallet", prefix="/wallet", title="Wallet", template_package="services.wallet",
               nav=(("Credentials", "/"), ("Pathways", "/pathways")))


def create_app(settings: Settings) -> web.Application:
    app = create_service_app(settings, "wallet", [])
    pages = create_pages_app(app, settings, WALLET)
    handlers.add_routes(pages)
    app.add_subapp(WALLET.prefix, pages)
    return app
