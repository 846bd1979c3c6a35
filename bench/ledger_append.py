"""Ledger append and audit throughput, beside the raw Postgres COPY rate.

    python bench/ledger_append.py [--events 100000] [--log-size 1000000]

Figures, all in one run against the same database:
- raw COPY of equivalent rows into an unindexed table, in 500-row
  transactions (the raw limit the ledger is compared with);
- ledger appends in batches of 500 (events/s, and the ratio to raw COPY),
  with the database's chain check (migration 0010), and the same batches,
  alternating batch by batch, into a second ledger database whose chain
  trigger is disabled: their ratio is the check's cost;
- single-event appends from 8 concurrent writers (events/s), through group
  commit (`Ledger.append`: concurrent appends share a transaction) and, in
  the same run, each in its own transaction as before group commit
  (`append_in`), alternating rounds so that outside load hits both alike;
- `audit verify` over a log of --log-size entries, in one process and in
  one process per core, chain only and as the CLI runs it: the chain plus
  the Merkle tree rebuilt from it and a signed checkpoint every 100,000
  entries checked against it (events/s);
- inclusion-proof time in a --log-size Merkle tree (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from shared.ledger.eventstore.events import Event, EventCatalog, Metadata  # noqa: E402
from shared.ledger.eventstore.store import Ledger, NewEvent  # noqa: E402
from shared.ledger.transparency.audit import verify_chain  # noqa: E402
from shared.ledger.transparency.checkpoints import LogSigner, LogTree  # noqa: E402
from shared.ledger.transparency.parallel_audit import LogTrust, verify_chain_parallel  # noqa: E402
from shared.ledger.transparency.signed_note import Checkpoint, Verifier  # noqa: E402


class BenchIssued(Event, frozen=True):
    """Roughly the size of a real issuance event's summary fields."""

    event_type = "bench.Issued"
    credential_id: str
    issuer: str
    achievement: str
    learner_hash: str
    document_hash: str


CATALOG = EventCatalog(BenchIssued)
META = Metadata(actor="bench-client", tenant="bench-tenant", request_id="bench")
BATCH = 500


def make_event(i: int) -> NewEvent:
    cid = f"urn:uuid:{i:08d}-0000-4000-8000-{random.getrandbits(48):012x}"
    return NewEvent(cid, BenchIssued(
        credential_id=cid, issuer="did:web:uni.example", achievement=f"ach-{i % 50}",
        learner_hash="sha256$" + os.urandom(32).hex(), document_hash=os.urandom(32).hex(),
    ))


async def raw_copy_rate(pool: asyncpg.Pool, events: list[NewEvent]) -> float:
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE raw_copy (position bigint, stream_id text, version int, event_type text,"
            " payload bytea, metadata bytea, prev_hash bytea, hash bytea)"
        )
        meta, digest = b'{"actor":"bench-client"}' * 4, os.urandom(32)
        rows = [(i, e.stream_id, 1, "bench.Issued", CATALOG.encode(e.event), meta, digest, digest)
                for i, e in enumerate(events, 1)]
        with Timer() as timer:
            for start in range(0, len(rows), BATCH):
                async with conn.transaction():
                    await conn.copy_records_to_table("raw_copy", records=rows[start:start + BATCH])
    return len(rows) / timer.seconds


async def disable_chain_enforcement(pool: asyncpg.Pool) -> None:
    await pool.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_extend_chain")


async def enforced_and_unenforced_rates(enforced: Ledger, plain: Ledger, events: list[NewEvent]) -> tuple[float, float]:
    """Batched-append rates (a batch over the median batch time) into a
    ledger with the chain trigger and one without, alternating batch by
    batch and which goes first, so that load from elsewhere hits both alike."""
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for number, start in enumerate(range(0, len(events), BATCH)):
        for ledger in ((enforced, plain) if number % 2 else (plain, enforced)):
            with Timer() as timer:
                await ledger.append(events[start:start + BATCH], META)
            seconds[ledger is enforced].append(timer.seconds)
    return BATCH / statistics.median(seconds[True]), BATCH / statistics.median(seconds[False])


async def concurrent_single_rate(ledger: Ledger, grouped: bool, writers: int = 8, each: int = 100) -> float:
    async def own_transaction(event: NewEvent) -> None:
        async with ledger.pool.acquire() as conn, conn.transaction():
            await ledger.append_in(conn, [event], META)

    append = (lambda event: ledger.append([event], META)) if grouped else own_transaction

    async def writer(w: int) -> None:
        for i in range(each):
            await append(make_event(w * each + i))  # stream ids carry random bits

    with Timer() as timer:
        await asyncio.gather(*(writer(w) for w in range(writers)))
    return writers * each / timer.seconds


async def grouped_and_ungrouped_rates(ledger: Ledger, rounds: int = 4) -> tuple[float, float]:
    rates: dict[bool, list[float]] = {True: [], False: []}
    for number in range(rounds):
        for grouped in ((True, False) if number % 2 else (False, True)):
            rates[grouped].append(await concurrent_single_rate(ledger, grouped))
    return statistics.median(rates[True]), statistics.median(rates[False])


async def grow_log(ledger: Ledger, size: int) -> None:
    head = await ledger.head_position()
    while head < size:
        n = min(5000, size - head)
        await ledger.append([make_event(head + i) for i in range(n)], META)
        head += n
        print(f"\r  growing the log: {head:,}/{size:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


async def sign_checkpoints(conn: asyncpg.Connection, log_tree: LogTree) -> LogTrust:
    """A signed checkpoint every 100,000 entries, as the checkpointer leaves them."""
    signer = LogSigner("bench.example/log", base64.b64encode(os.urandom(32)).decode())
    for size in range(100_000, log_tree.size + 1, 100_000):
        root = log_tree.tree.root(size)
        await conn.execute("INSERT INTO ledger.checkpoints (tree_size, root_hash, signed_note) VALUES ($1, $2, $3)",
                           size, root, signer.sign(Checkpoint(signer.origin, size, root)))
    return LogTrust(signer.origin, (Verifier.parse(signer.vkey),))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--log-size", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_postgres() as admin_url:
        async with (fresh_database(admin_url, bench_database_name("ledger")) as url,
                    fresh_database(admin_url, bench_database_name("ledger_plain")) as plain_url):
            pool = await asyncpg.create_pool(url, min_size=9, max_size=9)
            plain_pool = await asyncpg.create_pool(plain_url, min_size=9, max_size=9)
            await disable_chain_enforcement(plain_pool)
            ledger = Ledger(pool, CATALOG)
            events = [make_event(i) for i in range(args.events)]
            raw = await raw_copy_rate(pool, events)
            report("raw COPY, 500-row transactions", raw, "rows/s")
            enforced, unenforced = await enforced_and_unenforced_rates(
                ledger, Ledger(plain_pool, CATALOG), events)
            await plain_pool.close()
            report("ledger append, batches of 500", enforced, "events/s", raw, "raw COPY")
            report("  the same without the chain trigger", unenforced, "events/s", raw, "raw COPY")
            report("  chain trigger: enforced / unenforced", enforced, "events/s", unenforced, "unenforced")
            grouped, ungrouped = await grouped_and_ungrouped_rates(ledger)
            report("ledger append, 1 event x 8 writers, group commit", grouped, "events/s",
                   ungrouped, "one transaction each (before)")
            report("  the same, one transaction each (before)", ungrouped, "events/s")
            await grow_log(ledger, args.log_size)
            async with pool.acquire() as conn:
                log_tree = LogTree()
                with Timer() as timer:
                    await log_tree.catch_up(conn)
                report(f"Merkle tree load ({log_tree.size:,} leaves)", log_tree.size / timer.seconds, "leaves/s")
                trust = await sign_checkpoints(conn, log_tree)
                with Timer() as timer:
                    result = await verify_chain(conn)
                assert result.ok, result
                single = result.checked / timer.seconds
                report(f"audit verify, 1 process ({result.checked:,} events)", single, "events/s")
                with Timer() as timer:
                    result = await asyncio.to_thread(verify_chain_parallel, url)
                assert result.ok, result
                chain_only = result.checked / timer.seconds
                report(f"audit verify, {os.cpu_count()} processes, chain only", chain_only,
                       "events/s", single, "1 process")
                with Timer() as timer:
                    result = await asyncio.to_thread(functools.partial(verify_chain_parallel, url, trust=trust))
                assert result.ok and result.checkpoints_checked, result
                report(f"audit verify, {os.cpu_count()} processes (the CLI: chain + "
                       f"{result.checkpoints_checked} checkpoints)", result.checked / timer.seconds,
                       "events/s", chain_only, "chain only")
            size = log_tree.size
            samples = []
            for _ in range(2000):
                index = random.randrange(size)
                started = time.perf_counter()
                log_tree.tree.inclusion_proof(index, size)
                samples.append((time.perf_counter() - started) * 1000)
            print(f"{'inclusion proof, ' + f'{size:,}-entry log':<48} {statistics.mean(samples):>14.4f} ms mean,"
                  f" p99 {statistics.quantiles(samples, n=100)[98]:.4f} ms")
            await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
