"""kill -9 issuance (twice) and the registry during a batch import from
several clients, as a university's import would meet it: every row ends up
issued exactly once and no item is ever refused.

The clients behave as the `credledger issue` CLI does: batches with an
Idempotency-Key, retried with the same key on 503 and on connection errors.
A restarted issuance service replays the whole ledger into its registry
view before it can decide; until then it must answer 503 (never
"The issuer is not registered"). Real processes, Postgres and broker.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp
import msgspec
import pytest

from credledger.embedded import free_port
from shared.events import CATALOG
from shared.events import registry as ev
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support import processes
from tests.support.http import bearer
from tests.support.issuance import item, university
from tests.support.world import ADMIN

pytestmark = pytest.mark.slow

CLIENTS = 4
BATCHES_PER_CLIENT = 12
BATCH = 50
TOTAL = CLIENTS * BATCHES_PER_CLIENT * BATCH
RETRYABLE = (503, 502, 504)
# Older ledger history, before the university joined: a restarted issuance
# service replays it (its registry view is in memory) before it knows the
# issuer, which is when it used to answer "The issuer is not registered".
HISTORY = 20_000


class Import:
    """The import's clients, the outcomes they saw and the retries they made."""

    def __init__(self, url: str, api_key: str, achievement_id: str) -> None:
        self.url = url
        self.api_key = api_key
        self.achievement_id = achievement_id
        self.outcomes: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.batches_done = 0

    def batch(self, client: int, number: int) -> list[dict]:
        first = (client * BATCHES_PER_CLIENT + number) * BATCH
        return [item(f"row-{n}", self.achievement_id, email=f"learner{n}@example.org")
                for n in range(first, first + BATCH)]

    async def run_client(self, http: aiohttp.ClientSession, client: int) -> None:
        for number in range(BATCHES_PER_CLIENT):
            headers = {**bearer(self.api_key), "Idempotency-Key": f"import-{client}-{number}"}
            body = await self.send_until_answered(http, {"items": self.batch(client, number)}, headers)
            for outcome in body["items"]:
                assert outcome["outcome"] != "rejected", outcome
                self.outcomes[outcome["outcome"]] += 1
            self.batches_done += 1

    async def send_until_answered(self, http: aiohttp.ClientSession, payload: dict, headers: dict) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                async with http.post(f"{self.url}/v1/credentials/batch", json=payload, headers=headers) as response:
                    if response.status in RETRYABLE:
                        assert response.headers.get("Retry-After") or response.status != 503
                        self.retries[str(response.status)] += 1
                    else:
                        assert response.status == 200, await response.text()
                        return await response.json()
            except (TimeoutError, aiohttp.ClientConnectionError):
                self.retries["connection"] += 1
            await asyncio.sleep(0.2)
        raise AssertionError("the batch was never answered")


async def ready(http: aiohttp.ClientSession, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


async def add_history(db) -> None:
    ledger = Ledger(db, CATALOG)
    for start in range(0, HISTORY, 5000):
        await ledger.append([NewEvent(f"client:old-{n}", ev.ApiClientCreated(
            client_id=f"old-{n}", tenant_id=f"employer-{n}", role="employer", name=f"Employer {n}"))
            for n in range(start, start + 5000)], ADMIN)


async def test_kill_9_issuance_and_registry_during_a_batch_import(db, settings, tmp_path: Path):
    await add_history(db)
    _, issuer, achievement_id = await university(db, settings)
    settings = msgspec.structs.replace(
        settings, issuance_port=free_port(), registry_port=free_port(), relay_port=free_port())

    def start(args: list[str], name: str):
        return processes.start(args, settings, tmp_path / f"{name}.log")

    relay = start(["-m", "credledger", "relay"], "relay")
    services = {name: start(["-m", "credledger", "serve", name], name) for name in ("registry", "issuance")}
    run = Import(settings.url_of("issuance"), issuer.api_key, achievement_id)

    async def chaos() -> None:
        for at_fraction, victims in ((0.25, ["issuance"]), (0.5, ["registry"]), (0.7, ["issuance", "registry"])):
            while run.batches_done < at_fraction * CLIENTS * BATCHES_PER_CLIENT:
                await asyncio.sleep(0.05)
            for name in victims:
                processes.kill_hard(services[name])
                services[name] = start(["-m", "credledger", "serve", name], name)

    try:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await ready(http, settings.url_of("issuance"))
            await asyncio.gather(chaos(), *(run.run_client(http, c) for c in range(CLIENTS)))
    finally:
        for process in (*services.values(), relay):
            processes.stop(process)

    rows = await db.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT issuer_reference) AS refs FROM issuance.credentials")
    events = await db.fetchval(
        "SELECT count(*) FROM ledger.events WHERE event_type = 'issuance.CredentialIssued'")
    assert dict(rows) == {"n": TOTAL, "refs": TOTAL}
    assert events == TOTAL
    assert run.outcomes["issued"] + run.outcomes["existing"] == TOTAL
    # The kills did land mid-import: clients had to retry.
    assert sum(run.retries.values()) > 0, run.retries
    print(f"fault import: {TOTAL} rows, outcomes {dict(run.outcomes)}, retries {dict(run.retries)}")
