"""What the wallet's handlers share, opened with the app (typed key beside it)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.wallet.issuance_client import IssuanceClient
from services.wallet.sharing import Sharing
from shared.settings import Settings


@dataclass(frozen=True)
class WalletContext:
    settings: Settings
    issuance: IssuanceClient
    sharing: Sharing
    # Where browsers reach the badge pages (the verification service).
    verify_origin: str


WALLET_KEY = web.AppKey("wallet", WalletContext)


def wallet(request: web.Request) -> WalletContext:
    return request.config_dict[WALLET_KEY]
