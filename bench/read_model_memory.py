"""Memory of the verification read model per credential, and snapshot load
time, beside the raw limits measured in the same run.

    python bench/read_model_memory.py [--credentials 1000000]

Fills a read model with --credentials credentials (random UUID ids, hashes
and salts; 3 issuers x 4 achievements; distinct issue times), the way the
projection stores a CredentialIssued event, and prints:

- bytes per credential (tracemalloc: what the model keeps allocated; and
  the process RSS growth), beside the raw 16-byte id array alone;
- snapshot encode and load (restore from the chunks, the hash table
  rebuilt), beside a raw numpy load of the same bytes (copying them into
  arrays);
- id lookups per second (500 at a time, as a request's slice does, and one
  at a time), beside a dict of the same ids (which would cost about 100
  bytes per credential by itself).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from bench._support import Timer, report  # noqa: E402
from services.verification.credential_table import NEVER  # noqa: E402
from services.verification.model import ReadModel  # noqa: E402
from services.verification.snapshot import encode_chunks, restore  # noqa: E402

PROFILES = [(f"uni-{i}", f"key-{i}", f"ach-{i}-{j}") for i in range(3) for j in range(4)]


def fill(model: ReadModel, ids: list[str]) -> None:
    add, started = model.credentials.add, 1_700_000_000
    for n, cid in enumerate(ids):
        add(cid, os.urandom(32), "sha256$" + os.urandom(32).hex(), os.urandom(16).hex(), PROFILES[n % 12],
            started + n, started + n, NEVER if n % 2 else started + n + 4 * 365 * 86400)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credentials", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.credentials
    ids = [f"urn:uuid:{uuid.UUID(int=random.getrandbits(128), version=4)}" for _ in range(n)]
    process = psutil.Process()
    model = ReadModel()
    with Timer() as timer:
        fill(model, ids)
    with Timer() as timer_encode:
        chunks = list(encode_chunks(model))
    del model
    gc.collect()
    size = sum(map(len, chunks))
    with Timer() as raw:
        arrays = [np.frombuffer(chunk, dtype=np.uint8).copy() for chunk in chunks[1:]]
    del arrays
    # What a loaded model keeps: allocations alive once the load's temporaries are gone.
    rss_before = process.memory_info().rss
    tracemalloc.start()
    copy = ReadModel()
    with Timer() as load:
        restore(copy, chunks)
    del chunks
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss = process.memory_info().rss - rss_before
    print(f"\n== read model of {n:,} credentials (filled through the event path's add in {timer.seconds:.1f}s) ==")
    report("read model, bytes per credential (tracemalloc)", kept / n, "B", 16, "raw 16-byte id array")
    report("  process RSS growth per credential", rss / n, "B", 16, "raw 16-byte id array")
    report("  against the goal", kept / n, "B", 100, "goal")
    print(f"  (exactly {kept / n:.2f} B per credential kept)")
    report(f"snapshot encode ({size / 1e6:,.0f} MB)", timer_encode.seconds * 1000, "ms")
    report("snapshot load (restore + hash table), ms", load.seconds * 1000, "ms", raw.seconds * 1000,
           "raw numpy load of the same bytes, ms")
    report("  per 1,000,000 credentials", load.seconds * 1e9 / n, "ms", 7000, "goal (today's 7-9 s), ms")

    sample = random.sample(ids, min(n, 200_000))
    table = copy.credentials
    started = time.perf_counter()
    found = sum(row >= 0 for start in range(0, len(sample), 500) for row in table.rows(sample[start:start + 500]))
    batch_rate = len(sample) / (time.perf_counter() - started)
    started = time.perf_counter()
    found += sum(table.row(cid) >= 0 for cid in sample)
    single_rate = len(sample) / (time.perf_counter() - started)
    assert found == 2 * len(sample)
    plain = dict.fromkeys(sample, 0)
    started = time.perf_counter()
    sum(plain.get(cid, -1) >= 0 for cid in sample)
    dict_rate = len(sample) / (time.perf_counter() - started)
    report("id lookups, 500 at a time (what requests do)", batch_rate, "/s", dict_rate, "a Python dict")
    report("id lookups, one at a time", single_rate, "/s", dict_rate, "a Python dict")


if __name__ == "__main__":
    main()
