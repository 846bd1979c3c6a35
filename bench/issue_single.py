"""One credential per request (`POST /v1/credentials`), beside the raw limits
measured in the same run.

    python bench/issue_single.py [--clients 64] [--seconds 20] [--proofs proof-set|jcs-only]
                                 [--idempotency-keys]

The issuance service and the relay run as their own processes (as
`credledger up` runs them) on a fresh database of the local Postgres and the
embedded broker. Figures:

- one client, one request at a time: p50 / p99 latency (ms);
- `--clients` concurrent clients for `--seconds`: credentials/s, p50 / p99;
- raw single-row autocommit INSERTs of a real CredentialIssued payload from
  the same number of concurrent tasks over a pool the size of the
  service's (rows/s: one commit, one fsync each, the floor a request that
  durably writes one row on its own would have), and the p50 of one task
  inserting alone (ms, beside the 1-client figure);
- raw Ed25519 signing on one core (signatures/s);
- CPU per request of each process (service, relay, broker, the database's
  Postgres backends, the client), in each phase: on 2 cores a request's
  latency includes whatever the previous one woke up, so CPU per request
  compares branches where wall time is noisy.

Every answered request is durable (201 only after its commit); the run
checks the ledger holds exactly the credentials answered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import msgspec  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from bench.issue_bulk import (  # noqa: E402
    ACHIEVEMENT,
    API_KEY,
    cpu_by_role,
    cpu_seconds,
    late_backends,
    processes,
    raw_signing_rate,
    registry_world,
    stage_seconds,
)
from credledger.backends import kafka_broker  # noqa: E402
from credledger.embedded import free_port, stop_process  # noqa: E402
from credledger.stack import spawn, wait_ready  # noqa: E402
from shared.settings import load_settings  # noqa: E402

POOL_SIZE = 10  # Settings.db_pool_max, the service's pool


def body(n: int) -> bytes:
    return msgspec.json.encode({"reference": f"ONE-{n:08d}", "achievement_id": ACHIEVEMENT,
                                "learner": {"email": f"single{n}@example.org"}, "issued_on": "2026-06-30",
                                "grade": "B"})


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str, idempotency: bool) -> None:
        self._session, self._url, self._idempotency = session, url, idempotency
        self.next = 0

    async def issue(self) -> float:
        """One request; its latency in ms."""
        n, self.next = self.next, self.next + 1
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        if self._idempotency:
            headers["Idempotency-Key"] = f"bench-{n}"
        started = time.perf_counter()
        async with self._session.post(f"{self._url}/v1/credentials", data=body(n), headers=headers) as response:
            answer = await response.read()
            if response.status != 201:
                raise SystemExit(f"request {n} failed: {response.status} {answer[:300]!r}")
        return (time.perf_counter() - started) * 1000


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100)[p - 1]


async def sequential(client: Client, count: int) -> list[float]:
    return [await client.issue() for _ in range(count)]


async def concurrent(client: Client, clients: int, seconds: float) -> tuple[int, list[float], float]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        while time.perf_counter() < deadline:
            samples.append(await client.issue())

    with Timer() as timer:
        await asyncio.gather(*(one() for _ in range(clients)))
    return len(samples), samples, timer.seconds


async def raw_insert_rate(pool: asyncpg.Pool, tasks: int, seconds: float) -> tuple[float, float]:
    """Single-row autocommit INSERTs of a real CredentialIssued payload: rows/s
    from `tasks` tasks, and the p50 of one task inserting alone (ms)."""
    payload = bytes(await pool.fetchval("SELECT payload FROM ledger.events"
                                        " WHERE event_type = 'issuance.CredentialIssued' LIMIT 1"))
    await pool.execute("CREATE TABLE raw_insert (id bigserial PRIMARY KEY, stream_id text, payload bytea)")
    alone = []
    for n in range(200):
        started = time.perf_counter()
        await pool.execute("INSERT INTO raw_insert (stream_id, payload) VALUES ($1, $2)", f"alone:{n}", payload)
        alone.append((time.perf_counter() - started) * 1000)
    count, deadline = 0, time.perf_counter() + seconds

    async def one(t: int) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await pool.execute("INSERT INTO raw_insert (stream_id, payload) VALUES ($1, $2)",
                               f"raw:{t}:{count}", payload)
            count += 1

    with Timer() as timer:
        await asyncio.gather(*(one(t) for t in range(tasks)))
    return count / timer.seconds, statistics.median(alone)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--one-client-requests", type=int, default=500)
    parser.add_argument("--proofs", choices=("proof-set", "jcs-only"), default="proof-set")
    parser.add_argument("--idempotency-keys", action="store_true", help="send an Idempotency-Key with each request")
    args = parser.parse_args()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"issue_single_{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    with bench_postgres() as admin_url, kafka_broker() as bootstrap:
        async with fresh_database(admin_url, bench_database_name("issue_single")) as database_url:
            settings = load_settings(
                environ={}, database_url=database_url, kafka_bootstrap_servers=bootstrap,
                kafka_topic_prefix=f"bench{os.getpid()}", relay_port=free_port(), issuance_port=free_port(),
                master_key=base64.b64encode(os.urandom(32)).decode(),
                log_signing_key=base64.b64encode(os.urandom(32)).decode(), log_level="WARNING",
                credential_proofs=args.proofs)
            pool = await asyncpg.create_pool(database_url, min_size=POOL_SIZE, max_size=POOL_SIZE)
            await registry_world(pool, settings)
            relay = spawn(["relay"], settings, logs, "relay")
            service = spawn(["serve", "issuance"], settings, logs, "issuance")
            url = settings.url_of("issuance")
            try:
                wait_ready(url, service)
                connector = aiohttp.TCPConnector(limit=args.clients)
                async with aiohttp.ClientSession(connector=connector) as session:
                    client = Client(session, url, args.idempotency_keys)
                    await sequential(client, 50)  # warm-up: keys opened, prototypes built, signers started
                    database = database_url.rsplit("/", 1)[-1]
                    roles = processes(service, relay, database, bootstrap)
                    stages_one, cpu_one = stage_seconds(url), cpu_by_role(roles)
                    one = await sequential(client, args.one_client_requests)
                    stages_before, cpu_before = stage_seconds(url), cpu_by_role(roles)
                    count, samples, seconds = await concurrent(client, args.clients, args.seconds)
                    stages_after, cpu_after = stage_seconds(url), cpu_by_role(roles)
                    cpu_after["postgres"] += sum(cpu_seconds(p) for p in late_backends(roles, database))
                issued = await pool.fetchval("SELECT count(*) FROM ledger.events"
                                             " WHERE event_type = 'issuance.CredentialIssued'")
                assert issued == client.next, (issued, client.next)  # every answered credential, once
                raw_insert, raw_insert_ms = await raw_insert_rate(pool, args.clients, 5.0)
                raw_sign = raw_signing_rate()
                print(f"\n== one credential per request, {args.proofs}, {os.cpu_count()} cores,"
                      f" idempotency keys {'on' if args.idempotency_keys else 'off'} ==")
                print("service time per stage, mean per request: 1 client /", args.clients, "clients")
                for stage, total in stages_after.items():
                    print(f"  {stage:<10} {(stages_before[stage] - stages_one[stage]) / len(one) * 1000:8.3f} ms"
                          f" / {(total - stages_before[stage]) / count * 1000:8.3f} ms")
                print("CPU per request, by process: 1 client /", args.clients, "clients")
                for role in ("service", "signers", "relay", "broker", "postgres", "client"):
                    print(f"  {role:<10} {(cpu_before[role] - cpu_one[role]) / len(one) * 1000:8.3f} ms"
                          f" / {(cpu_after[role] - cpu_before[role]) / count * 1000:8.3f} ms")
                print(f"{'1 client, p50 / p99':<48} {statistics.median(one):>11.2f} ms / {percentile(one, 99):.2f} ms"
                      f"   ({statistics.median(one) / raw_insert_ms:.1f} x raw insert p50 {raw_insert_ms:.2f} ms;"
                      " goal p50 <= 3 ms)")
                report(f"{args.clients} clients, {seconds:.0f} s", count / seconds, "credentials/s",
                       raw_insert, "raw single-row inserts")
                print(f"{f'{args.clients} clients, p50 / p99':<48} {statistics.median(samples):>11.2f} ms"
                      f" / {percentile(samples, 99):.2f} ms   (goal p99 <= 50 ms)")
                report(f"raw single-row autocommit INSERT, {args.clients} tasks", raw_insert, "rows/s")
                report("raw Ed25519 sign, one core", raw_sign, "signatures/s")
                report(f"  {args.clients} clients against raw sign", count / seconds, "credentials/s",
                       raw_sign, "raw sign")
            finally:
                stop_process(service)
                stop_process(relay)
                await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
