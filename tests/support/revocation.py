"""The revocation service as its tests run it: the relay in-process, so the
service's projections hear the ledger through the broker, and the app ready."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp.test_utils import TestClient

from services.revocation.app import create_app
from shared.settings import Settings
from tests.support.http import serving
from tests.support.waiting import eventually, running_relay


@contextlib.asynccontextmanager
async def revocation_service(settings: Settings) -> AsyncIterator[TestClient]:
    async with running_relay(settings), serving(create_app, settings) as client:
        async def ready() -> bool | None:
            return True if (await client.get("/readyz")).status == 200 else None

        await eventually(ready)
        yield client
