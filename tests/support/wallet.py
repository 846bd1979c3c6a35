"""The pieces a learner's wallet needs, on real sockets: issuance,
verification and the wallet itself (each at the port its settings name,
since the wallet calls issuance there), the relay, and a registry world of
two universities, one with a two-component pathway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import msgspec
from aiohttp.test_utils import TestClient, TestServer

from credledger.embedded import free_port
from services.issuance.app import create_app as issuance_app
from services.verification.app import create_app as verification_app
from services.verification.projection import ReadModelOptions
from services.wallet.app import create_app as wallet_app
from shared.events import registry as ev
from shared.settings import Settings
from tests.support.http import bearer
from tests.support.issuance import add_pathway, registry_caught_up
from tests.support.waiting import eventually, running_relay
from tests.support.world import Issuer, World

LEARNER = "ada.lovelace@example.org"
FAST = ReadModelOptions(idle_check_interval=0.2, max_silence_seconds=1.5, retry_interval=0.3)


def wallet_settings(settings: Settings, outbox: Path) -> Settings:
    return msgspec.structs.replace(
        settings, issuance_port=free_port(), verification_port=free_port(), wallet_port=free_port(),
        pages_without_gateway=True, mail_backend="file", mail_outbox=str(outbox))


@contextlib.asynccontextmanager
async def on_port(app, port: int) -> AsyncIterator[TestClient]:
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server(access_log=None)
    async with TestClient(server) as client:
        yield client


@dataclass
class Campus:
    world: World
    first: Issuer
    second: Issuer
    python: str
    statistics: str
    ethics: str
    award: str
    pathway: str
    employer_key: str
    issued: dict[str, dict] = field(default_factory=dict)


async def campus(db: asyncpg.Pool, settings: Settings) -> Campus:
    world = World(db, settings)
    await world.agency()
    first, second = await world.issuer("uni-1"), await world.issuer("uni-2")
    python = await world.achievement(first, title="Data Analysis with Python")
    statistics = await world.achievement(first, title="Applied Statistics")
    award = await world.achievement(first, title="Certificate in Data Science", workload=ev.Workload(ects=10.0))
    ethics = await world.achievement(second, title="Research Ethics")
    pathway = await add_pathway(world, first, "data-science", award, ev.PathwayRule(
        required=[python, statistics], min_credits=10.0, auto_award=True))
    return Campus(world, first, second, python, statistics, ethics, award, pathway,
                  await world.client("employer", "acme"))


@dataclass
class Stack:
    issuance: TestClient
    verification: TestClient
    wallet: TestClient

    @property
    def wallet_url(self) -> str:
        return str(self.wallet.make_url("/wallet")).rstrip("/")


@contextlib.asynccontextmanager
async def wallet_stack(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[Stack]:
    async with on_port(issuance_app(settings), settings.issuance_port) as issuance, running_relay(settings), \
            on_port(verification_app(settings, options=FAST), settings.verification_port) as verification, \
            on_port(wallet_app(settings), settings.wallet_port) as wallet:
        await registry_caught_up(issuance, db)

        async def ready() -> bool | None:
            statuses = [(await c.get("/readyz")).status for c in (verification, wallet)]
            return True if statuses == [200, 200] else None

        await eventually(ready, timeout=60)
        yield Stack(issuance, verification, wallet)


async def issue(stack: Stack, issuer: Issuer, achievement_id: str, reference: str, email: str = LEARNER) -> dict:
    response = await stack.issuance.post("/v1/credentials", headers=bearer(issuer.api_key), json={
        "reference": reference, "achievement_id": achievement_id, "learner": {"email": email}})
    assert response.status == 201, await response.text()
    return await response.json()


async def claim_mails(outbox: Path, count: int, timeout: float = 20.0) -> list[Path]:
    async def arrived() -> list[Path] | None:
        found = sorted(outbox.glob("*.eml")) if outbox.exists() else []
        return found if len(found) >= count else None

    return await eventually(arrived, timeout=timeout)


