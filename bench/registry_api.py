"""The registry's hot paths, each beside a raw limit measured in the same run.

    python bench/registry_api.py [--requests 5000] [--concurrency 16] [--writes 400]

- The gateway asks `GET /v1/auth/check` for every request it lets through
  (nginx caches the 204s briefly): with one key (the registry's own cache)
  and with a new key each time (a Postgres lookup), against `GET /healthz`
  on the same server and client, the raw HTTP limit of this process.
- Verifiers resolve `GET /issuers/{id}/did.json` (ten keys) and read
  `GET /v1/achievements` (a page of 50): against the same raw limit.
- Agencies write: approving achievements, 8 concurrent agency requests (each
  a read, the rule checks, one append with expected versions and the table
  projection in one transaction), against raw single-event ledger appends
  from 8 writers on the same database.
- Issuance and verification rebuild RegistryState from registry events at
  start: events/s applied, against decoding the same payloads alone.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import msgspec  # noqa: E402
from aiohttp import web  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from credledger.backends import kafka_broker  # noqa: E402
from services.registry.app import create_app  # noqa: E402
from shared.events import CATALOG  # noqa: E402
from shared.ledger.eventstore.events import Metadata  # noqa: E402
from shared.ledger.eventstore.store import Ledger, NewEvent  # noqa: E402
from shared.registry_state import RegistryState  # noqa: E402
from shared.settings import load_settings  # noqa: E402
from tests.support.events import TEST_CATALOG, Noted  # noqa: E402

PLATFORM_KEY = "bench-platform-key"
SPEC = {
    "title": "Data Analysis with Python", "description": "Analyse tabular data.", "criteria": "Pass the exam.",
    "country": "IE", "learning_outcomes": ["Clean a dataset"], "workload": {"ects": 5.0}, "eqf_level": 6,
    "field": "0613", "assessment_type": "exam", "participation_form": "online", "quality_assurance": "QQI review",
}


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, key: str | None = None, body: object = None) -> dict:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as response:
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()


async def rate(session: aiohttp.ClientSession, urls, total: int, concurrency: int, headers=lambda: {}) -> float:
    """Requests per second for `total` GETs from `concurrency` workers."""
    counter = itertools.count()

    async def worker() -> None:
        while next(counter) < total:
            async with session.get(next(urls), headers=headers()) as response:
                await response.read()
                assert response.status < 300, response.status

    with Timer() as timer:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / timer.seconds


async def build_registry(api: Api, keys: int) -> tuple[str, str, list[str]]:
    """An agency, an accredited issuer with ten keys and 50 approved
    achievements; `keys` employer API keys. Returns the admin key, the issuer
    key and the employer keys."""
    admin = (await api.call("POST", "/v1/agencies", PLATFORM_KEY,
                            {"agency_id": "qqi", "name": "QQI", "jurisdiction": "IE"}))["admin_api_key"]
    await api.call("POST", "/v1/issuers", admin, {"issuer_id": "tud", "legal_name": "TU Dublin", "country": "IE"})
    await api.call("POST", "/v1/accreditations", admin,
                   {"subject_kind": "issuer", "subject_id": "tud", "scope": {"eqf_levels": [6]}})
    client = await api.call("POST", "/v1/clients", admin, {"role": "issuer", "tenant_id": "tud", "name": "SIS"})
    issuer = client["api_key"]
    await api.call("POST", "/v1/issuers/tud/keys", issuer, {"custody": "hosted"})
    for n in range(1, 10):
        await api.call("POST", f"/v1/issuers/tud/keys/key-{n}/rotate", issuer, {"custody": "hosted"})
    for _ in range(50):
        achievement = (await api.call("POST", "/v1/achievements", issuer, {"spec": SPEC}))["achievement"]
        await api.call("POST", f"/v1/achievements/{achievement['achievement_id']}/approve", admin)
    employers = [(await api.call("POST", "/v1/clients", admin, {"role": "employer", "tenant_id": f"emp-{n}",
                                                                "name": "employer"}))["api_key"] for n in range(keys)]
    return admin, issuer, employers


async def approval_rate(api: Api, admin: str, issuer: str, writes: int, writers: int = 8) -> float:
    proposed = [(await api.call("POST", "/v1/achievements", issuer, {"spec": SPEC}))["achievement"]["achievement_id"]
                for _ in range(writes)]
    queue = iter(proposed)

    async def writer() -> None:
        for achievement_id in queue:
            await api.call("POST", f"/v1/achievements/{achievement_id}/approve", admin)

    with Timer() as timer:
        await asyncio.gather(*(writer() for _ in range(writers)))
    return writes / timer.seconds


async def raw_append_rate(pool: asyncpg.Pool, writes: int, writers: int = 8) -> float:
    ledger = Ledger(pool, TEST_CATALOG)
    meta = Metadata(actor="bench", tenant="bench")
    counter = itertools.count()

    async def writer() -> None:
        while (n := next(counter)) < writes:
            await ledger.append([NewEvent(f"raw-{n}", Noted(text="x"))], meta)

    with Timer() as timer:
        await asyncio.gather(*(writer() for _ in range(writers)))
    return writes / timer.seconds


async def replay_rates(pool: asyncpg.Pool, copies: int = 200) -> tuple[float, float]:
    """Registry events applied to a RegistryState per second, and the same
    payloads only decoded. Events are repeated with fresh ids to make a
    realistic volume (an agency's years of decisions)."""
    recorded = [r for r in await Ledger(pool, CATALOG).read_from(0, 1_000_000) if r.event_type.startswith("registry.")]
    with Timer() as raw:
        for _ in range(copies):
            for r in recorded:
                msgspec.json.decode(bytes(r.payload))
    with Timer() as applied:
        for _ in range(copies):
            state = RegistryState()
            for r in recorded:
                state.apply(CATALOG.decode(r))
    events = len(recorded) * copies
    return events / applied.seconds, events / raw.seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--writes", type=int, default=400)
    args = parser.parse_args()
    with bench_postgres() as admin_url, kafka_broker() as bootstrap:
        async with fresh_database(admin_url, bench_database_name("registry")) as url:
            settings = load_settings(
                environ={}, database_url=url, kafka_bootstrap_servers=bootstrap, bootstrap_admin_key=PLATFORM_KEY,
                kafka_topic_prefix=f"bench{uuid.uuid4().hex[:6]}", environment="test", log_level="WARNING",
                master_key=base64.b64encode(os.urandom(32)).decode(), db_pool_max=20,
            )
            runner = web.AppRunner(create_app(settings), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port we were given
            base = f"http://127.0.0.1:{port}"
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                api = Api(session, base)
                print("building the registry ...", file=sys.stderr)
                admin, issuer, employers = await build_registry(api, min(args.requests, 2000))
                n, c = args.requests, args.concurrency
                raw = await rate(session, itertools.repeat(f"{base}/healthz"), n, c)
                report("raw: GET /healthz, same server and client", raw, "req/s")
                one_key = {"Authorization": f"Bearer {employers[0]}"}
                report("auth check, one key (registry cache)",
                       await rate(session, itertools.repeat(f"{base}/v1/auth/check"), n, c, lambda: one_key),
                       "req/s", raw, "raw HTTP")
                fresh = iter(employers[1:])
                report("auth check, a new key each time (Postgres)",
                       await rate(session, itertools.repeat(f"{base}/v1/auth/check"), len(employers) - 1, c,
                                  lambda: {"Authorization": f"Bearer {next(fresh)}"}),
                       "req/s", raw, "raw HTTP")
                report("GET did.json (10 keys)",
                       await rate(session, itertools.repeat(f"{base}/issuers/tud/did.json"), n, c),
                       "req/s", raw, "raw HTTP")
                report("GET /v1/achievements (page of 50)",
                       await rate(session, itertools.repeat(f"{base}/v1/achievements?limit=50"), n // 5, c),
                       "req/s", raw, "raw HTTP")
                pool = await asyncpg.create_pool(url, min_size=8, max_size=8)
                raw_writes = await raw_append_rate(pool, args.writes)
                report("raw: ledger append, 1 event x 8 writers", raw_writes, "events/s")
                approvals = await approval_rate(api, admin, issuer, args.writes)
                report("approve achievement, 8 concurrent agencies", approvals, "writes/s", raw_writes, "raw append")
                applied, decoded = await replay_rates(pool)
                report("raw: decode registry event payloads", decoded, "events/s")
                report("RegistryState rebuild from registry events", applied, "events/s", decoded, "raw decode")
                await pool.close()
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
