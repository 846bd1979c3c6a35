"""The portal's resources, one object the pages reach through their app."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from aiohttp import web

from services.employer.checks import Tracker
from services.employer.organisations import api_key_of
from services.employer.verification_client import VerificationClient
from shared.key_vault import KeyVault


@dataclass
class Portal:
    """Filled in when the service starts; the pages sub-app is frozen by
    then, so it holds this one object from the start."""

    pool: asyncpg.Pool = field(init=False)
    client: VerificationClient = field(init=False)
    vault: KeyVault = field(init=False)
    tracker: Tracker = field(init=False)

    async def api_key(self, tenant_id: str) -> str:
        return await api_key_of(self.pool, self.vault, tenant_id)


PORTAL_KEY = web.AppKey("employer_portal", Portal)
