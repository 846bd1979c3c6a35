"""The learner wallet's application factory: pages under /wallet.

The wallet owns sessions (shared/web/), share links and privacy choices
(recorded as ledger events the badge page obeys) and the claim emails; the
credentials themselves it reads from issuance, which owns them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.wallet import handlers
from services.wallet.claims import PROJECTION_NAME, ClaimProjection, ClaimSender
from services.wallet.context import WALLET_KEY, WalletContext
from services.wallet.issuance_client import IssuanceClient
from services.wallet.mails import claim_mail
from services.wallet.sharing import Sharing
from shared.events import CATALOG
from shared.http.common_handlers import WHOAMI
from shared.ledger.eventstore.store import Ledger
from shared.mail import mailer
from shared.service import POOL_KEY, SETTINGS_KEY, background_context, create_service_app, projection_context
from shared.settings import Settings
from shared.web.pages import JINJA_KEY, Realm, create_pages_app
from shared.web.sessions import Sealer
from shared.web.sign_in import SignInLinks

WALLET = Realm(name="wallet", prefix="/wallet", title="Wallet", template_package="services.wallet",
               nav=(("Credentials", "/"), ("Pathways", "/pathways"), ("Credits", "/credits")))
SENDER_KEY = web.AppKey("wallet_claim_sender", ClaimSender)


def _context(realm: Realm, pages: web.Application):
    async def open_wallet(app: web.Application) -> AsyncIterator[None]:
        settings, pool = app[SETTINGS_KEY], app[POOL_KEY]
        async with aiohttp.ClientSession() as session:
            issuance = IssuanceClient(session, settings.url_of("issuance"), settings.master_key)
            app[WALLET_KEY] = WalletContext(
                settings=settings, issuance=issuance,
                sharing=Sharing(pool, Ledger(pool, CATALOG), settings.master_key, settings.page_origin("verification")),
                verify_origin=settings.page_origin("verification"),
            )
            links = SignInLinks(pool, realm.name, Sealer(settings.master_key, realm.name),
                                settings.claim_link_max_age_seconds)

            async def claim_link(credential_id: str, address: str) -> str:
                token = await links.issue(address, f"/credentials/{credential_id}")
                return realm.url(settings, f"/sign-in/{token}")

            def compose(url: str, title: str, issuer_name: str) -> tuple[str, str]:
                return claim_mail(pages[JINJA_KEY], realm, url, title, issuer_name,
                                  settings.claim_link_max_age_seconds // 86400)

            app[SENDER_KEY] = ClaimSender(pool, issuance, mailer(settings), claim_link, compose)
            yield

    return open_wallet


def create_app(settings: Settings) -> web.Application:
    realm = dataclasses.replace(WALLET, base_url=settings.page_origin("wallet"))
    # /v1/whoami like every service: operators probe keys the same way everywhere.
    app = create_service_app(settings, "wallet", [WHOAMI])
    pages = create_pages_app(app, settings, realm)
    app.cleanup_ctx.extend([
        _context(realm, pages),
        projection_context(lambda app: ClaimProjection(app[POOL_KEY]), group_id=PROJECTION_NAME),
        # Not part of readiness: a mail server outage must not take the pages down.
        background_context("claim_mails", lambda app: app[SENDER_KEY].run, affects_readiness=False),
    ])
    handlers.add_routes(pages)
    app.add_subapp(realm.prefix, pages)
    return app
