"""Run a service's real application on a real socket for a test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared.settings import Settings


@contextlib.asynccontextmanager
async def serving(factory: Callable[[Settings], web.Application], settings: Settings) -> AsyncIterator[TestClient]:
    # No aiohttp access log, as the services run (shared/service.py): their
    # own request log line is the one that leaves out private path values.
    server = TestServer(factory(settings), host="127.0.0.1")
    await server.start_server(access_log=None)
    async with TestClient(server) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
