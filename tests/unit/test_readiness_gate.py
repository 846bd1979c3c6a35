"""The readiness gate: business routes wait for the read models, then 503;
probes stay open. Plain runner objects stand in for projection runners."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared import service
from shared.http.middleware import problem_middleware
from shared.ledger.delivery.projection import ProjectionRunner


def runner(name: str) -> SimpleNamespace:
    return SimpleNamespace(projection=SimpleNamespace(name=name), caught_up=asyncio.Event())


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def gated_app(*runners: SimpleNamespace) -> web.Application:
    app = web.Application(middlewares=[problem_middleware, service.readiness_gate])
    app[service.RUNNERS_KEY] = list(runners)
    app.router.add_get("/v1/things", ok)
    app.router.add_get("/healthz", ok)
    return app


@pytest.fixture
def short_wait(monkeypatch):
    monkeypatch.setattr(service, "GATE_WAIT_SECONDS", 0.05)


async def test_business_routes_are_503_with_retry_after_until_caught_up(short_wait):
    registry_view = runner("issuance.registry")
    async with TestClient(TestServer(gated_app(registry_view))) as client:
        refused = await client.get("/v1/things")
        assert refused.status == 503
        assert refused.headers["Retry-After"]
        assert "issuance.registry" in (await refused.json(content_type=None))["detail"]
        assert (await client.get("/healthz")).status == 200
        registry_view.caught_up.set()
        assert (await client.get("/v1/things")).status == 200
        # An outage clears it again (the runner does so when interrupted).
        registry_view.caught_up.clear()
        assert (await client.get("/v1/things")).status == 503


async def test_a_request_arriving_during_catch_up_waits_instead_of_failing(monkeypatch):
    monkeypatch.setattr(service, "GATE_WAIT_SECONDS", 5.0)
    first, second = runner("a"), runner("b")
    second.caught_up.set()
    async with TestClient(TestServer(gated_app(first, second))) as client:
        pending = asyncio.create_task(client.get("/v1/things"))
        await asyncio.sleep(0.05)
        assert not pending.done()
        first.caught_up.set()
        assert (await pending).status == 200


async def test_runner_reached_waits_for_the_position_or_times_out():
    projection_runner = ProjectionRunner(None, None, "", "", group_id=None)  # type: ignore[arg-type]
    projection_runner.position = 10
    assert await projection_runner.reached(10, timeout=0)
    assert not await projection_runner.reached(11, timeout=0.01)
    waiting = asyncio.create_task(projection_runner.reached(12, timeout=5))
    await asyncio.sleep(0)
    for position in (11, 12):
        projection_runner.position = position
        projection_runner._advanced.set()
        await asyncio.sleep(0)
    assert await waiting
