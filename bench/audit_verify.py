"""`audit verify` throughput and its spread between runs, beside the raw
limits measured in the same run.

    python bench/audit_verify.py [--events 1000000] [--runs 3]

Builds a log of --events entries (the same ~300-byte events as
bench/ledger_append.py) with a signed checkpoint every 100,000, then runs
the check --runs times each way: as the CLI runs it (chain + Merkle tree +
checkpoints, one process per core) and chain only. Every run is printed, so
the spread is visible, with the slowest beside:

- raw binary COPY: the same rows read as the audit reads them (binary COPY
  chunks of its query, copy_rows.py, one connection per process for all
  its ranges), one process per core, nothing checked: the database and the
  transfer alone;
- raw row fetch: the same rows decoded into asyncpg Records, one process
  per core, nothing checked (how the audit read them before);
- raw SHA-256 of the entries' bytes, one core, times the cores.

The header says whether the audit's C accelerator (native.py) is built and
used; CREDLEDGER_AUDIT_NATIVE=0 measures the pure-Python readers instead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import multiprocessing
import multiprocessing.util
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from bench.ledger_append import CATALOG, META, make_event  # noqa: E402
from shared.ledger.eventstore.chain import entry_bytes  # noqa: E402
from shared.ledger.eventstore.store import Ledger  # noqa: E402
from shared.ledger.transparency.audit import QUERIES  # noqa: E402
from shared.ledger.transparency.checkpoints import LogSigner, LogTree  # noqa: E402
from shared.ledger.transparency.copy_rows import copy_chunk  # noqa: E402
from shared.ledger.transparency.native import chunkhash  # noqa: E402
from shared.ledger.transparency.parallel_audit import RANGE_SIZE, LogTrust, verify_chain_parallel  # noqa: E402
from shared.ledger.transparency.signed_note import Checkpoint, Verifier  # noqa: E402

_ROWS = ("SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash FROM ledger.events"
         " WHERE position > $1 AND position <= $2 ORDER BY position")


async def build(url: str, events: int) -> LogTrust:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    ledger = Ledger(pool, CATALOG)
    head = await ledger.head_position()
    while head < events:
        n = min(5000, events - head)
        await ledger.append([make_event(head + i) for i in range(n)], META)
        head += n
        print(f"\r  building the log: {head:,}/{events:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    signer = LogSigner("bench.example/log", base64.b64encode(os.urandom(32)).decode())
    async with pool.acquire() as conn:
        tree = LogTree()
        await tree.catch_up(conn)
        for size in range(100_000, tree.size + 1, 100_000):
            root = tree.tree.root(size)
            await conn.execute("INSERT INTO ledger.checkpoints (tree_size, root_hash, signed_note) VALUES ($1, $2, $3)",
                               size, root, signer.sign(Checkpoint(signer.origin, size, root)))
    await pool.close()
    return LogTrust(signer.origin, (Verifier.parse(signer.vkey),))


def _fetch_range(task: tuple[str, int, int]) -> int:
    dsn, first, last = task

    async def run() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            count = 0
            for start in range(first - 1, last, 20_000):
                count += len(await conn.fetch(_ROWS, start, min(start + 20_000, last)))
            return count
        finally:
            await conn.close()

    return asyncio.run(run())


_reader: tuple[asyncio.Runner, asyncpg.Connection] | None = None


def _copy_range(task: tuple[str, int, int]) -> int:
    """The range as the audit reads it, nothing checked: binary COPY chunks
    on one connection per process for all its ranges (parallel_audit.py)."""
    global _reader
    dsn, first, last = task
    if _reader is None:
        runner = asyncio.Runner()
        _reader = runner, runner.run(asyncpg.connect(dsn))
        multiprocessing.util.Finalize(None, _close_reader, exitpriority=0)
    runner, conn = _reader

    async def run() -> int:
        size = 0
        for start in range(first - 1, last, 20_000):
            size += len(await copy_chunk(conn, QUERIES["audit_copy"], start, min(20_000, last - start)))
        return last - first + 1 if size else 0

    return runner.run(run())


def _close_reader() -> None:
    assert _reader is not None
    runner, conn = _reader
    runner.run(conn.close())
    runner.close()


def raw_fetch_rate(url: str, events: int, read=_fetch_range) -> float:
    tasks = [(url, start, min(start + RANGE_SIZE - 1, events)) for start in range(1, events + 1, RANGE_SIZE)]
    with Timer() as timer, multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        fetched = sum(pool.imap(read, tasks))
        pool.close()  # and wait for the workers to close their connections
        pool.join()
    return fetched / timer.seconds


async def raw_hash_rate(url: str, rows: int = 100_000) -> float:
    conn = await asyncpg.connect(url)
    records = await conn.fetch(_ROWS, 0, rows)
    await conn.close()
    entries = [(r[6], entry_bytes(r[0], r[1], r[2], r[3], r[4], r[5])) for r in records]
    sha256 = hashlib.sha256
    with Timer() as timer:
        for prev, entry in entries:
            sha256(prev + entry).digest()
    return len(entries) / timer.seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with bench_postgres() as admin_url:
        async with fresh_database(admin_url, bench_database_name("audit")) as url:
            trust = await build(url, args.events)
            reader = "C accelerator" if chunkhash is not None else "pure Python (no C accelerator)"
            print(f"\n== audit verify of {args.events:,} events, {cores} cores, {args.runs} runs each, {reader} ==")
            rates: dict[str, list[float]] = {"cli": [], "chain": []}
            for run in range(args.runs):
                for mode in ("cli", "chain"):
                    call = functools.partial(verify_chain_parallel, url, trust=trust if mode == "cli" else None)
                    with Timer() as timer:
                        result = await asyncio.to_thread(call)
                    assert result.ok and (mode == "chain" or result.checkpoints_checked), result
                    rates[mode].append(result.checked / timer.seconds)
                    print(f"  run {run + 1} {mode:<5} {rates[mode][-1]:>12,.0f} events/s", flush=True)
            copied = raw_fetch_rate(url, args.events, _copy_range)
            fetch = raw_fetch_rate(url, args.events)
            hashing = await raw_hash_rate(url) * cores
            label = f"{cores} processes"
            report(f"audit verify as the CLI runs it, slowest of {args.runs}", min(rates["cli"]), "events/s",
                   copied, f"raw binary COPY, {label}")
            report("  fastest", max(rates["cli"]), "events/s", copied, f"raw binary COPY, {label}")
            report("  slowest, beside Records", min(rates["cli"]), "events/s", fetch, f"raw row fetch, {label}")
            report(f"audit verify, chain only, slowest of {args.runs}", min(rates["chain"]), "events/s",
                   hashing, f"raw SHA-256 x {cores}")
            report("  against the goal", min(rates["cli"]), "events/s", 500_000, "goal")


if __name__ == "__main__":
    asyncio.run(main())
