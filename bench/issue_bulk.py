"""Bulk issuance end to end, beside the raw limits measured in the same run.

    python bench/issue_bulk.py [--credentials 100000] [--batch 10000] [--concurrency 2]

The issuance service and the relay run as their own processes (as
`credledger up` runs them) on a fresh database of the local Postgres and the
embedded broker. This script posts the credentials to the batch endpoint
(hosted signing) and stops the clock when the relay has published the last
one to Kafka, i.e. every credential is signed, appended, durable and
published. It does so twice in one run: with the proof set credentials carry
(eddsa-rdfc-2022 + eddsa-jcs-2022), then with the service restarted signing
eddsa-jcs-2022 only (CREDLEDGER_CREDENTIAL_PROOFS=jcs-only, the former
signing). Figures:

- raw RDFC-1.0 canonicalization of an issued credential, one core: pyld
  (the reference implementation), pyoxigraph (the chosen library) per
  document, and pyoxigraph from a prototype (what bulk signing does);
- raw Ed25519 signing, one core (the floor of the signing work);
- raw COPY of rows shaped like CredentialIssued ledger rows, in
  transactions of one batch (the floor of the database work);
- end-to-end credentials/s of each signing, as a ratio to those;
- where the time went: the service's issuance_stage_seconds, and the CPU
  seconds each process used during the run (service with its signing
  processes, relay, this database's Postgres backends, broker, this client).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import msgspec  # noqa: E402
import psutil  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from credledger.backends import kafka_broker  # noqa: E402
from credledger.embedded import free_port, stop_process  # noqa: E402
from credledger.stack import spawn, wait_ready  # noqa: E402
from services.registry.issuers import store_hosted_key  # noqa: E402
from services.registry.projection import RegistryTablesProjection  # noqa: E402
from shared.auth import hash_api_key  # noqa: E402
from shared.credential_format import issuer_did  # noqa: E402
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_seed  # noqa: E402
from shared.crypto.multibase import public_key_to_multibase  # noqa: E402
from shared.events import CATALOG  # noqa: E402
from shared.events import registry as ev  # noqa: E402
from shared.jsonld.contexts import ContextLoader  # noqa: E402
from shared.jsonld.rdfc import canonical_nquads  # noqa: E402
from shared.jsonld.rdfc_prototypes import RdfcPrototypes  # noqa: E402
from shared.key_vault import KeyVault  # noqa: E402
from shared.ledger.eventstore.events import Metadata  # noqa: E402
from shared.ledger.eventstore.store import Ledger, NewEvent  # noqa: E402
from shared.settings import Settings, load_settings  # noqa: E402
from tests.support import independent_rdfc  # noqa: E402

EPOCH = "2020-01-01T00:00:00Z"
API_KEY = "bench-issuer-key"
ISSUER = "bench-uni"
ACHIEVEMENT = "bench-ach"


async def registry_world(pool: asyncpg.Pool, settings: Settings) -> None:
    """An accredited issuer with a hosted key, an approved achievement and an API key."""
    ledger, meta, seed = Ledger(pool, CATALOG), Metadata(actor="bench", tenant="platform"), os.urandom(32)
    async with pool.acquire() as conn:
        await store_hosted_key(conn, KeyVault(settings.master_key), ISSUER, "key-1", seed)
    spec = ev.AchievementSpec(
        title="Data Analysis with Python", description="Analyse tabular data with pandas.",
        criteria="Pass a supervised practical assessment.", country="IE",
        learning_outcomes=["Clean a dataset", "Summarise data with group-by operations"],
        workload=ev.Workload(ects=5.0, hours=125.0), eqf_level=6, field="0613",
        assessment_type="supervised practical exam", participation_form="online",
        quality_assurance="QQI institutional review", grading_scheme="A-F",
        skills=[ev.Skill(uri="http://data.europa.eu/esco/skill/abc", name="data analysis")])
    scope = ev.AccreditationScope(eqf_levels=list(range(1, 9)))
    public = public_key_to_multibase(raw_public_key(signing_key_from_seed(seed)))
    await ledger.append([
        NewEvent("agency:qqi", ev.AgencyCreated(agency_id="qqi", name="QQI", jurisdiction="IE", scope=scope)),
        NewEvent(f"issuer:{ISSUER}", ev.IssuerRegistered(
            issuer_id=ISSUER, registered_by="qqi", legal_name="Bench University", country="IE",
            did=issuer_did(settings.public_base_url, ISSUER))),
        NewEvent(f"issuer:{ISSUER}", ev.IssuerKeyAdded(issuer_id=ISSUER, key_id="key-1", public_key_multibase=public,
                                                      custody="hosted", valid_from=EPOCH)),
        NewEvent("accreditation:acc-1", ev.AccreditationGranted(
            accreditation_id="acc-1", accreditor_id="qqi", subject_kind="issuer", subject_id=ISSUER,
            scope=scope, valid_from=EPOCH)),
        NewEvent(f"achievement:{ACHIEVEMENT}", ev.AchievementProposed(achievement_id=ACHIEVEMENT, issuer_id=ISSUER,
                                                                      spec=spec)),
        NewEvent(f"achievement:{ACHIEVEMENT}", ev.AchievementApproved(achievement_id=ACHIEVEMENT, agency_id="qqi",
                                                                      at=EPOCH)),
        NewEvent("client:bench", ev.ApiClientCreated(client_id="bench", tenant_id=ISSUER, role="issuer",
                                                     name="bench")),
        NewEvent("client:bench", ev.ApiKeyIssued(client_id="bench", key_id="k-bench",
                                                 key_hash=hash_api_key(API_KEY).hex())),
    ], meta)
    await RegistryTablesProjection(pool).apply(await ledger.read_from(0, 1000))


def _rate(call, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call(count)
        count += 1
    return count / (time.perf_counter() - started)


async def raw_canonicalization_rates(pool: asyncpg.Pool, public_base_url: str,
                                     seconds: float = 2.0) -> dict[str, float]:
    """RDFC-1.0 of a real issued credential (without its proofs), one core;
    each call gets a fresh id, so nothing is cached across documents."""
    payload = await pool.fetchval("SELECT payload FROM ledger.events"
                                  " WHERE event_type = 'issuance.CredentialIssued' LIMIT 1")
    issued = msgspec.json.decode(bytes(payload))["document"]
    document = {key: value for key, value in issued.items() if key != "proof"}
    loader, prototypes = ContextLoader(public_base_url), RdfcPrototypes(ContextLoader(public_base_url))

    def fresh(n: int) -> dict:
        return {**document, "id": f"urn:uuid:00000000-0000-4000-8000-{n:012d}"}

    return {
        "pyld (reference)": _rate(lambda n: independent_rdfc.canonize(fresh(n)), seconds),
        "pyoxigraph, per document": _rate(lambda n: canonical_nquads(fresh(n), loader), seconds),
        "pyoxigraph, from a prototype": _rate(lambda n: prototypes.canonical_nquads(fresh(n)), seconds),
    }


def raw_signing_rate(seconds: float = 2.0) -> float:
    key, message, count = Ed25519PrivateKey.generate(), os.urandom(64), 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(1000):
            key.sign(message)
        count += 1000
    return count / (time.perf_counter() - started)


async def raw_copy_rate(pool: asyncpg.Pool, rows: int, batch: int) -> float:
    """COPY rows like the ledger's CredentialIssued rows (a real one's payload
    and metadata, issued in the warm-up) into an unindexed table."""
    sample = await pool.fetchrow("SELECT payload, metadata FROM ledger.events"
                                 " WHERE event_type = 'issuance.CredentialIssued' LIMIT 1")
    payload, meta, digest = bytes(sample["payload"]), bytes(sample["metadata"]), os.urandom(32)
    records = [(i, f"credential:{i:036d}", 1, "issuance.CredentialIssued", payload, meta, digest, digest)
               for i in range(batch)]
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE raw_copy (position bigint, stream_id text, version int, event_type text,"
                           " payload bytea, metadata bytea, prev_hash bytea, hash bytea)")
        with Timer() as timer:
            for _ in range(rows // batch):
                async with conn.transaction():
                    await conn.copy_records_to_table("raw_copy", records=records)
    return rows / timer.seconds


def batch_body(start: int, size: int) -> bytes:
    return msgspec.json.encode({"items": [
        {"reference": f"SIS-{n:07d}", "achievement_id": ACHIEVEMENT, "learner": {"email": f"learner{n}@example.org"},
         "issued_on": "2026-06-30", "grade": "B"} for n in range(start, start + size)]})


async def issue_all(url: str, first: int, total: int, batch: int, concurrency: int) -> int:
    """Issue references first .. first+total-1; return how many were issued."""
    bodies: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for start in range(first, first + total, batch):
        bodies.put_nowait((start, min(batch, first + total - start)))
    issued = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal issued
        while not bodies.empty():
            start, size = bodies.get_nowait()
            async with session.post(f"{url}/v1/credentials/batch", data=batch_body(start, size), headers={
                    "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}) as response:
                body = msgspec.json.decode(await response.read())
                if response.status != 200:
                    raise SystemExit(f"batch at {start} failed: {response.status} {body}")
                issued += body["issued"]

    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return issued


async def published(pool: asyncpg.Pool) -> None:
    """Until the relay has published the ledger's head to Kafka."""
    while True:
        head = await pool.fetchval("SELECT coalesce(max(position), 0) FROM ledger.events")
        done = await pool.fetchval("SELECT coalesce(max(position), 0) FROM ledger.relay_progress")
        if done >= head:
            return
        await asyncio.sleep(0.02)


def stage_seconds(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics") as response:
        text = response.read().decode()
    pattern = r'issuance_stage_seconds_sum\{stage="(\w+)"\} ([0-9.e+-]+)'
    return {match.group(1): float(match.group(2)) for match in re.finditer(pattern, text)}


def cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return times.user + times.system
    except psutil.NoSuchProcess:
        return 0.0


def processes(
    service: subprocess.Popen, relay: subprocess.Popen, database: str, bootstrap: str,
) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU the run is charged with, by role (other
    databases' backends and other brokers on the machine are not ours)."""
    found: dict[str, list[psutil.Process]] = {"postgres": [], "broker": []}
    for candidate in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(candidate.info["cmdline"] or ())
        if _is_backend_of(candidate, database):
            found["postgres"].append(candidate)
        elif "tansu" in command and f"tcp://{bootstrap} " in command + " ":
            found["broker"].append(candidate)
    service_process = psutil.Process(service.pid)
    found["service"] = [service_process]
    found["signers"] = service_process.children(recursive=True)
    found["relay"] = [psutil.Process(relay.pid)]
    found["client"] = [psutil.Process()]
    return found


def _is_backend_of(process: psutil.Process, database: str) -> bool:
    return process.info["name"] == "postgres" and f" {database} " in " ".join(process.info["cmdline"] or ())


def late_backends(roles: dict[str, list[psutil.Process]], database: str) -> list[psutil.Process]:
    """Backends of the database opened during the run (a pool grows under
    load): every CPU second they used is the run's."""
    known = {p.pid for p in roles["postgres"]}
    return [p for p in psutil.process_iter(["name", "cmdline"]) if p.pid not in known and _is_backend_of(p, database)]


def cpu_by_role(roles: dict[str, list[psutil.Process]]) -> dict[str, float]:
    return {role: sum(cpu_seconds(p) for p in members) for role, members in roles.items()}


async def measure_mode(mode: str, settings: Settings, pool: asyncpg.Pool, relay: subprocess.Popen, logs: Path,
                       bootstrap: str, first: int, args: argparse.Namespace) -> tuple[float, Settings]:
    """Issue args.credentials (references from `first`) with the service signing `mode`."""
    settings = msgspec.structs.replace(settings, credential_proofs=mode, issuance_port=free_port())
    service = spawn(["serve", "issuance"], settings, logs, f"issuance-{mode}")
    url = settings.url_of("issuance")
    try:
        wait_ready(url, service)
        warm_up = min(args.batch, 1000)
        await issue_all(url, first + args.credentials, warm_up, warm_up, 1)  # starts the signing processes
        await published(pool)
        before = stage_seconds(url)
        database = settings.database_url.rsplit("/", 1)[-1]
        roles = processes(service, relay, database, bootstrap)
        cpu_before = cpu_by_role(roles)
        with Timer() as timer:
            issued = await issue_all(url, first, args.credentials, args.batch, args.concurrency)
            answered = time.perf_counter()
            await published(pool)
        cpu_after, after = cpu_by_role(roles), stage_seconds(url)
        cpu_after["postgres"] += sum(cpu_seconds(p) for p in late_backends(roles, database))
        print(f"[{mode}] all requests answered after {answered - timer.started:.1f}s,"
              f" all published after {timer.seconds:.1f}s")
        print(f"[{mode}] service time per stage over {timer.seconds:.1f}s wall clock (summed over requests):")
        for stage, seconds in after.items():
            print(f"  {stage:<10} {seconds - before.get(stage, 0.0):8.2f} s")
        print(f"[{mode}] CPU seconds per process over the same {timer.seconds:.1f}s ({os.cpu_count()} cores):")
        for role, seconds in cpu_after.items():
            print(f"  {role:<10} {seconds - cpu_before[role]:8.2f} s")
        # Wall-clock rates suffer from whatever else the machine runs; CPU per credential does not.
        signing_cpu = sum(cpu_after[r] - cpu_before[r] for r in ("service", "signers"))
        print(f"[{mode}] issuance service CPU per credential: {signing_cpu / issued * 1e3:.3f} ms")
        assert issued == args.credentials, issued
        return issued / timer.seconds, settings
    finally:
        stop_process(service)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"issue_bulk_{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    with bench_postgres() as admin_url, kafka_broker() as bootstrap:
        async with fresh_database(admin_url, bench_database_name("issue")) as database_url:
            settings = load_settings(
                environ={}, database_url=database_url, kafka_bootstrap_servers=bootstrap,
                kafka_topic_prefix=f"bench{os.getpid()}", relay_port=free_port(),
                master_key=base64.b64encode(os.urandom(32)).decode(),
                log_signing_key=base64.b64encode(os.urandom(32)).decode(), log_level="WARNING",
                max_bulk_body_bytes=64 * 1024 * 1024)
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
            await registry_world(pool, settings)
            relay = spawn(["relay"], settings, logs, "relay")
            try:
                proof_set, _ = await measure_mode("proof-set", settings, pool, relay, logs, bootstrap, 0, args)
                jcs_only, _ = await measure_mode("jcs-only", settings, pool, relay, logs, bootstrap,
                                                 10 * args.credentials, args)
                print(f"\n== {args.credentials:,} credentials per signing, {args.batch:,} per request,"
                      f" {args.concurrency} concurrent requests, {os.cpu_count()} cores ==")
                for name, rate in (await raw_canonicalization_rates(pool, settings.public_base_url)).items():
                    report(f"raw RDFC-1.0, {name}", rate, "credentials/s")
                raw_sign = raw_signing_rate()
                report("raw Ed25519 sign, one core", raw_sign, "signatures/s")
                raw_copy = await raw_copy_rate(pool, min(args.credentials, 50_000), args.batch)
                report(f"raw COPY of CredentialIssued rows, {args.batch:,} per transaction", raw_copy, "rows/s")
                report("issued end to end, proof set (rdfc + jcs)", proof_set, "credentials/s", jcs_only, "jcs only")
                report("issued end to end, jcs only (former signing)", jcs_only, "credentials/s",
                       raw_sign, "raw sign")
                report("  proof set against the goal", proof_set, "credentials/s", 5_000, "goal")
                report("  proof set against raw COPY", proof_set, "credentials/s", raw_copy, "raw COPY")
            finally:
                stop_process(relay)
                await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
