"""Bulk verification, the product's headline figures, over real HTTP.

    python bench/verify_bulk.py [--credentials 1000000] [--pool 20000] [--seconds 8] [--clients 4]
                                [--job-lines 1000000] [--workers 2]

Loads --credentials CredentialIssued events into a fresh ledger (3 issuers,
4 achievements each). Signing a million credentials would dominate the run,
so only --pool distinct documents are signed; the remaining events reuse
those documents' bytes and hashes under distinct credential ids. Then the
verification service runs as a subprocess (as in production) and concurrent
clients measure, each beside the raw limit measured in this same run:

- by id (items/s), beside the in-process rate of the same code without HTTP;
- full documents as issued (items/s), beside in-process canonical hashing;
- foreign documents needing a signature check (items/s), beside the raw
  Ed25519 verify rate of libsodium and of `cryptography` (OpenSSL), per core;
- foreign documents carrying the platform's proof set (eddsa-rdfc-2022 +
  eddsa-jcs-2022), both signatures checked (items/s), beside raw verify and
  the raw RDFC-1.0 rate of pyoxigraph, per core;
- the same three per CPU second the service's processes used (per core
  used), beside the raw and in-process figures per CPU second of this
  process: on a shared machine these hold whatever share of the cores the
  service got, where the per-second figures follow the other load;
- p50/p99 of a 1,000-item request while the by-id load runs;
- a --job-lines job end to end (upload, processing, CSV download);
- memory per million credentials (and bytes per credential beside the raw
  16-byte id array), snapshot load beside a raw numpy load of the same
  bytes, and restart time with and without a snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import msgspec  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from credledger.backends import kafka_broker  # noqa: E402
from credledger.embedded import free_port  # noqa: E402
from services.verification.batch import BatchVerifier  # noqa: E402
from services.verification.freshness import Freshness  # noqa: E402
from services.verification.model import ReadModel  # noqa: E402
from services.verification.schemas import VerificationItem  # noqa: E402
from services.verification.snapshot import restore  # noqa: E402
from shared.crypto.jcs import canonicalize  # noqa: E402
from shared.crypto.proof_set import ProofSetSigner  # noqa: E402
from shared.events import CATALOG  # noqa: E402
from shared.events import credentials as cev  # noqa: E402
from shared.jsonld.contexts import ContextLoader  # noqa: E402
from shared.jsonld.rdfc import canonical_nquads  # noqa: E402
from shared.ledger.eventstore.store import Ledger, NewEvent  # noqa: E402
from shared.settings import load_settings  # noqa: E402
from tests.support.credentials_for_verification import ISSUED_AT, build_document, issued_event, sign  # noqa: E402
from tests.support.world import ADMIN, World  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RDFC_FOREIGN = 1000
BATCH = 5000
ID_REQUEST = 10_000
DOC_REQUEST = 1_000


async def build_ledger(pool: asyncpg.Pool, settings, credentials: int, pool_size: int):
    world = World(pool, settings)
    await world.agency()
    issuers = [await world.issuer(f"uni-{i}") for i in range(3)]
    for issuer in issuers:
        for _ in range(4):
            await world.achievement(issuer)
    employer_key = await world.client("employer", "bench")
    signed, foreign = [], []
    with Timer() as timer:
        for i in range(pool_size):
            issuer = issuers[i % 3]
            document = build_document(issuer, issuer.achievements[i % 4], email=f"learner{i}@example.org",
                                      salt=os.urandom(8).hex(), credential_id=f"urn:uuid:{i:08d}-0000-4000-8000-000000000000")
            signed.append((issuer, sign(issuer, document)))
        for i in range(2000):  # signed by registered issuers, never recorded in the ledger
            issuer = issuers[i % 3]
            foreign.append(sign(issuer, build_document(issuer, issuer.achievements[0], email=f"f{i}@example.org",
                                                       salt="s", credential_id=f"urn:uuid:f{i:07d}")))
    signers = proof_set_signers(issuers, settings.public_base_url)
    with Timer() as rdfc_timer:
        proof_sets = [msgspec.json.decode(signers[issuers[i % 3].issuer_id].secure(build_document(
            issuers[i % 3], issuers[i % 3].achievements[0], email=f"r{i}@example.org", salt="s",
            credential_id=f"urn:uuid:r{i:07d}", base_url=settings.public_base_url))) for i in range(RDFC_FOREIGN)]
    print(f"signed {RDFC_FOREIGN:,} foreign documents with proof sets in {rdfc_timer.seconds:.1f}s", flush=True)
    print(f"signed {pool_size:,} distinct documents + 2,000 foreign ones in {timer.seconds:.1f}s; the other "
          f"{max(credentials - pool_size, 0):,} credentials reuse those documents under distinct ids", flush=True)
    templates = [issued_event(issuer, doc["credentialSubject"]["achievement"]["id"].rsplit("/", 1)[-1], doc)
                 for issuer, doc in signed]
    ledger = Ledger(pool, CATALOG)
    ids = []
    with Timer() as timer:
        for start in range(0, credentials, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, credentials)):
                template = templates[i % pool_size]
                cid = template.credential_id if i < pool_size else f"urn:uuid:{i:08d}-1111-4000-8000-{i:012d}"
                batch.append(NewEvent(cev.credential_stream(cid), msgspec.structs.replace(template, credential_id=cid)))
                ids.append(cid)
            await ledger.append(batch, ADMIN)
            print(f"\r  ledger: {len(ids):,}/{credentials:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"appended {credentials:,} CredentialIssued events in {timer.seconds:.1f}s", flush=True)
    return employer_key, ids, [doc for _, doc in signed], foreign, proof_sets


def proof_set_signers(issuers, public_base_url: str) -> dict[str, ProofSetSigner]:
    loader = ContextLoader(public_base_url)
    return {issuer.issuer_id: ProofSetSigner(issuer.private_key, f"{issuer.did}#{issuer.key_id}", ISSUED_AT, loader)
            for issuer in issuers}


def raw_rdfc_rate(document: dict, public_base_url: str, seconds: float = 2.0) -> float:
    """pyoxigraph RDFC-1.0 of one document (its proofs removed), one core."""
    loader, unsecured = ContextLoader(public_base_url), {k: v for k, v in document.items() if k != "proof"}
    return _rate(lambda: canonical_nquads(unsecured, loader), seconds)


class Service:
    def __init__(self, settings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        self.url = settings.url_of("verification")
        self.process: subprocess.Popen | None = None

    async def start(self) -> tuple[float, float]:
        """Start the service; seconds until the read model is caught up, and
        until the whole service is ready (its Merkle log tree replays the
        ledger too). With several workers, the first to answer is measured."""
        env = {**os.environ, **self.settings.to_env(), "CREDLEDGER_LOG_LEVEL": "WARNING"}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.verification", "--workers", str(self.workers)], cwd=ROOT, env=env)
        model_ready = None
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(self.url + "/readyz") as response:
                        checks = (await response.json())["checks"]
                        if model_ready is None and checks.get("projection:verification.read_model"):
                            model_ready = time.perf_counter() - started
                        if response.status == 200:
                            return model_ready, time.perf_counter() - started
                except aiohttp.ClientError:
                    pass
                if self.process.poll() is not None:
                    raise SystemExit("the verification service exited during start")
                await asyncio.sleep(0.05)

    def stop(self) -> float:
        """SIGTERM (a clean shutdown writes a snapshot); seconds it took."""
        started = time.perf_counter()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=300)
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the service's processes."""
        parent = psutil.Process(self.process.pid)
        return sum(sum(p.cpu_times()[:2]) for p in [parent, *parent.children(recursive=True)])

    def rss(self) -> int:
        parent = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


async def load(url: str, key: str, bodies: list[bytes], seconds: float, clients: int,
               latencies: list[float] | None = None) -> tuple[int, float]:
    """Send pre-encoded request bodies from `clients` connections for `seconds`; items answered."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + seconds
    answered = 0

    async def client(n: int) -> None:
        nonlocal answered
        # A new connection per request: the workers share connections, not
        # requests, and a handful of long-lived connections can all be taken
        # by one of them (many real clients would not).
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            i = n
            while time.perf_counter() < deadline:
                body = bodies[i % len(bodies)]
                i += clients
                sent = time.perf_counter()
                async with session.post(url + "/v1/verifications", data=body) as response:
                    data = await response.read()
                    assert response.status == 200, data[:300]
                if latencies is not None:
                    latencies.append(time.perf_counter() - sent)
                answered += answered_in(data)

    with Timer() as timer:
        await asyncio.gather(*(client(n) for n in range(clients)))
    return answered, timer.seconds


def answered_in(response: bytes) -> int:
    """Items in an answer, from its `counts` (near the start: no need to parse 7 MB)."""
    head = response[:200]
    start = head.index(b'"counts":') + len(b'"counts":')
    return sum(msgspec.json.decode(head[start:head.index(b"}", start) + 1]).values())


def background_load(url: str, key: str, bodies: list[bytes], seconds: float, clients: int) -> None:
    """The by-id load from another process, so the latency probe's own event
    loop is not the one busy reading the load's answers."""
    asyncio.run(load(url, key, bodies, seconds, clients))


def id_bodies(ids: list[str], size: int, count: int) -> list[bytes]:
    return [msgspec.json.encode({"items": [{"id": cid} for cid in random.sample(ids, size)]}) for _ in range(count)]


def doc_bodies(documents: list[dict], size: int, count: int) -> list[bytes]:
    return [msgspec.json.encode({"items": [{"credential": d} for d in random.sample(documents, size)]})
            for _ in range(count)]


async def check_sample(url: str, key: str, body: bytes, expected: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session, \
            session.post(url + "/v1/verifications", data=body, headers=headers) as response:
            counts = (await response.json())["counts"]
    if counts.get(expected, 0) != sum(counts.values()):
        raise SystemExit(f"expected every item {expected}, got {counts}")


def raw_verify_rates(seconds: float = 2.0) -> dict[str, tuple[float, float]]:
    """Single-core Ed25519 verifies per wall second and per CPU second: OpenSSL
    through `cryptography`, libsodium through PyNaCl's VerifyKey, and libsodium
    as the service calls it."""
    import nacl.signing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.verification import ed25519

    key = Ed25519PrivateKey.generate()
    message = os.urandom(1200)  # about the size of a credential's signed hash data or JWS input
    signature, public = key.sign(message), key.public_key()
    raw_public = public.public_bytes_raw()
    verify_key = nacl.signing.VerifyKey(raw_public)
    return {
        "cryptography (OpenSSL)": _rates(lambda: public.verify(signature, message), seconds),
        "PyNaCl VerifyKey (libsodium)": _rates(lambda: verify_key.verify(message, signature), seconds),
        "libsodium detached, as the service calls it": _rates(
            lambda: ed25519.verify(raw_public, signature, message), seconds),
    }


def _rate(call, seconds: float) -> float:
    return _rates(call, seconds)[0]


def _rates(call, seconds: float) -> tuple[float, float]:
    """Calls per wall second and per CPU second of this process: on a shared
    machine the second is what one core does, whatever share of it we got."""
    n, cpu, deadline = 0, time.process_time(), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            call()
        n += 200
    return n / seconds, n / max(time.process_time() - cpu, 1e-9)


async def in_process_rates(url: str, documents: list[dict], ids_body: bytes, public_base_url: str
                           ) -> tuple[tuple[float, float], tuple[float, float], ReadModel, int]:
    """The same verification code without HTTP, on a model restored from the
    service's snapshot: by id and canonical hashing, each per wall second and
    per CPU second."""
    conn = await asyncpg.connect(url)
    model = ReadModel()
    snapshot = await conn.fetchval("SELECT max(snapshot_id) FROM verification.snapshots")
    chunks = [r["data"] for r in await conn.fetch(
        "SELECT data FROM verification.snapshot_chunks WHERE snapshot_id = $1 ORDER BY chunk_no", snapshot)]
    await conn.close()
    with Timer() as raw_load:
        copies = [np.frombuffer(chunk, dtype=np.uint8).copy() for chunk in chunks[1:]]
    del copies
    with Timer() as load_timer:
        restore(ReadModel(), chunks)
    report("snapshot load in process (restore + id hash table)", load_timer.seconds * 1000, "ms",
           raw_load.seconds * 1000, "raw numpy load of the same bytes, ms")
    # What the model keeps: allocations still alive once the load's temporaries are gone.
    gc.collect()
    tracemalloc.start()
    restore(model, chunks)
    del chunks
    gc.collect()
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    freshness = Freshness()
    freshness.caught_up.set()
    freshness.touch(model.position)
    verifier = BatchVerifier(model, freshness, ContextLoader(public_base_url))
    items = msgspec.json.decode(ids_body, type=dict[str, list[VerificationItem]])["items"]
    verifier.run(items)  # warm the caches, as the service's are warm
    cpu = time.process_time()
    with Timer() as timer:
        for _ in range(20):
            verifier.run(items)
    by_id = (20 * len(items) / timer.seconds, 20 * len(items) / (time.process_time() - cpu))
    cpu = time.process_time()
    with Timer() as timer:
        for document in documents:
            hashlib.sha256(canonicalize(document)).digest()
    hashing = (len(documents) / timer.seconds, len(documents) / (time.process_time() - cpu))
    return by_id, hashing, model, memory


async def measured_load(service: Service, key: str, bodies: list[bytes], args) -> tuple[int, float, float]:
    """`load`, and the CPU seconds the service's processes spent meanwhile."""
    cpu = service.cpu_seconds()
    items, seconds = await load(service.url, key, bodies, args.seconds, args.clients)
    return items, seconds, service.cpu_seconds() - cpu


async def run_job(url: str, key: str, ids: list[str], lines: int) -> tuple[float, float, float]:
    headers = {"Authorization": f"Bearer {key}"}

    async def body():
        for start in range(0, lines, 10_000):
            yield "".join(ids[i % len(ids)] + "\n" for i in range(start, min(start + 10_000, lines))).encode()

    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        started = time.perf_counter()
        async with session.post(url + "/v1/verification-jobs", data=body(),
                                headers={"Content-Type": "text/csv"}) as response:
            job = await response.json()
            assert response.status == 202, job
        uploaded = time.perf_counter() - started
        while True:
            async with session.get(url + job["links"]["self"]) as response:
                progress = await response.json()
            if progress["status"] == "completed":
                break
            await asyncio.sleep(0.2)
        processed = time.perf_counter() - started
        size = 0
        async with session.get(url + job["links"]["results"], params={"format": "csv"}) as response:
            async for data in response.content.iter_chunked(1 << 20):
                size += len(data)
        assert progress["counts"].get("valid") == lines, progress["counts"]
    return uploaded, processed, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credentials", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--job-lines", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="service processes (one shared listening socket)")
    args = parser.parse_args()
    pool_size = min(args.pool, args.credentials)
    with bench_postgres() as admin_url, kafka_broker() as bootstrap:
        async with fresh_database(admin_url, bench_database_name("verify")) as url:
            settings = load_settings(
                environ={}, database_url=url, kafka_bootstrap_servers=bootstrap, verification_port=free_port(),
                kafka_topic_prefix=f"bench{os.getpid()}", master_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                log_level="WARNING")
            pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
            key, ids, documents, foreign, proof_sets = await build_ledger(pool, settings, args.credentials, pool_size)
            await pool.close()
            await measure(settings, url, key, ids, documents, foreign, proof_sets, args)


async def measure(settings, url, key, ids, documents, foreign, proof_sets, args) -> None:
    service = Service(settings, args.workers)
    cold, cold_all = await service.start()
    rss = service.rss()
    snapshot_write = service.stop()
    warm, warm_all = await service.start()
    n = len(ids)
    print(f"\n== {n:,} credentials; service: {args.workers} worker process(es); {args.clients} concurrent "
          f"clients; {os.cpu_count()} cores ==")
    ids_body = id_bodies(ids, min(ID_REQUEST, n), 1)[0]
    in_id, in_hash, model, memory = await in_process_rates(url, documents[:2000], ids_body, settings.public_base_url)
    report("read model memory per 1,000,000 credentials", memory / n * 1e6 / 1e6, "MB (tracemalloc)")
    report("  bytes per credential", memory / n, "B", 16, "raw 16-byte id array")
    report("service RSS after catch-up, all workers", rss / 1e6, "MB")
    report("read model restart without snapshot (replay)", cold * 1000, "ms")
    report("read model restart with snapshot", warm * 1000, "ms", cold * 1000, "ms without")
    report("whole service ready, without / with snapshot", cold_all * 1000, "ms")
    report("  (its Merkle log tree replays the ledger)", warm_all * 1000, "ms", cold_all * 1000, "ms without")
    report("snapshot written on shutdown", snapshot_write * 1000, "ms")
    del model
    gc.collect()

    bodies = id_bodies(ids, min(ID_REQUEST, n), 8)
    await check_sample(service.url, key, bodies[0], "valid")
    items, seconds, cpu = await measured_load(service, key, bodies, args)
    by_id = items / seconds
    report(f"by id, {min(ID_REQUEST, n):,}-item requests", by_id, "items/s", in_id[0], "in-process, no HTTP")
    report("  per CPU second of the service (per core used)", items / cpu, "items/CPU-s", in_id[1],
           "in-process per CPU-s")
    report("  against the goal", by_id, "items/s", 250_000, "goal")

    small = id_bodies(ids, min(1000, n), 8)
    quiet: list[float] = []
    await load(service.url, key, small, 2.0, 1, quiet)
    quiet_p50, quiet_p99 = statistics.median(quiet) * 1e6, statistics.quantiles(quiet, n=100)[98] * 1e6
    latencies: list[float] = []
    loader = multiprocessing.get_context("spawn").Process(
        target=background_load, args=(service.url, key, bodies, args.seconds + 1, max(args.clients - 1, 1)))
    loader.start()
    await asyncio.sleep(0.5)
    await load(service.url, key, small, args.seconds, 1, latencies)
    loader.join()
    p50, p99 = statistics.median(latencies) * 1000, statistics.quantiles(latencies, n=100)[98] * 1000
    report("1,000-item request under by-id load: p50", p50 * 1000, "us", quiet_p50, "us unloaded")
    report("1,000-item request under by-id load: p99", p99 * 1000, "us", quiet_p99, "us unloaded")
    report("  against the goal", p99 * 1000, "us", 25_000, "us goal")

    issued_bodies = doc_bodies(documents[:min(len(documents), n)], min(DOC_REQUEST, len(documents)), 4)
    await check_sample(service.url, key, issued_bodies[0], "valid")
    items, seconds, cpu = await measured_load(service, key, issued_bodies, args)
    report("full documents as issued", items / seconds, "items/s", in_hash[0], "in-process JCS+SHA-256")
    report("  per CPU second of the service", items / cpu, "items/CPU-s", in_hash[1],
           "in-process JCS+SHA-256 per CPU-s")

    raw = raw_verify_rates()
    for how, (rate, per_cpu) in raw.items():
        report(f"  raw Ed25519 verify, 1 core: {how}", rate, "/s")
        report("    per CPU second", per_cpu, "/CPU-s")
    crypto_rate, sodium_rate = raw["cryptography (OpenSSL)"][0], max(r[0] for r in list(raw.values())[1:])
    sodium_cpu = max(r[1] for r in list(raw.values())[1:])
    foreign_bodies = doc_bodies(foreign, DOC_REQUEST, 4)
    await check_sample(service.url, key, foreign_bodies[0], "unknown")  # signature passes; status not in ledger
    items, seconds, cpu = await measured_load(service, key, foreign_bodies, args)
    cores = min(args.workers, os.cpu_count() or 1)
    report("foreign documents, signature checked", items / seconds, "items/s", sodium_rate * cores,
           f"raw libsodium verify x {cores} core(s)")
    report("  per CPU second of the service (per core used)", items / cpu, "items/CPU-s", sodium_cpu,
           "raw libsodium verify per CPU-s")
    report("  beside raw OpenSSL", items / seconds, "items/s", crypto_rate * cores,
           f"raw cryptography verify x {cores} core(s)")

    rdfc_rate = raw_rdfc_rate(proof_sets[0], settings.public_base_url)
    rdfc_bodies = doc_bodies(proof_sets, DOC_REQUEST, 2)
    await check_sample(service.url, key, rdfc_bodies[0], "unknown")  # both signatures pass; not in ledger
    items, seconds = await load(service.url, key, rdfc_bodies, args.seconds, args.clients)
    report("foreign proof-set documents, both checked", items / seconds, "items/s", crypto_rate * cores,
           f"raw cryptography verify x {cores} core(s)")
    report("", items / seconds, "items/s", rdfc_rate * cores, f"raw pyoxigraph RDFC-1.0 x {cores} core(s)")

    lines = args.job_lines
    uploaded, processed, total = await run_job(service.url, key, ids, lines)
    report(f"job of {lines:,} lines: upload", lines / uploaded, "lines/s")
    report(f"job of {lines:,} lines: upload + processing", lines / processed, "lines/s", by_id, "by-id HTTP")
    report(f"job of {lines:,} lines: end to end with CSV download", total * 1000, "ms")
    service.stop()


if __name__ == "__main__":
    asyncio.run(main())
