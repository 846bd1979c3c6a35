"""Foreign eddsa-jcs-2022 documents (signed by registered issuers, never
recorded in the ledger, as bench/verify_bulk.py submits them) through the
service's own code without HTTP: `decode_items` and `run_sliced`, 1,000
documents a body, beside the libsodium verify they need.

    python bench/verify_foreign_inprocess.py [--documents 2000] [--runs 3] [--uuid-ids]
        CPU microseconds per document (time.thread_time), best of each run's
        three passes: the whole, the body's decoding alone, one libsodium
        verify, and the share the verify is of the whole.
    valgrind --tool=callgrind python bench/verify_foreign_inprocess.py --passes N [--only decode|verify]
        N passes and nothing else after the set-up (fixed `now`, no slicing):
        (instructions of N=3 - of N=1) / 2 / documents is a document's count.

`--uuid-ids`: canonical urn:uuid ids (as this ledger's), where the bulk
bench uses short ones.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec  # noqa: E402

from services.verification import ed25519  # noqa: E402
from services.verification.batch import BatchVerifier  # noqa: E402
from services.verification.freshness import Freshness  # noqa: E402
from services.verification.handlers import decode_items  # noqa: E402
from shared.crypto.eddsa_jcs import prepare_verification, raw_public_key  # noqa: E402
from shared.jsonld.contexts import ContextLoader  # noqa: E402
from tests.support.credentials_for_verification import build_document, sign  # noqa: E402
from tests.support.foreign_corpus import world  # noqa: E402

BODY = 1000
NOW = 1_800_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uuid-ids", action="store_true")
    parser.add_argument("--passes", type=int, help="callgrind: this many passes, nothing measured")
    parser.add_argument("--only", choices=["decode", "verify"])
    args = parser.parse_args()
    model, issuers, _, _ = world()
    signers = [issuers[0], issuers[2]]  # accredited, keys valid at the signing time
    documents = [sign(signers[i % 2], build_document(
        signers[i % 2], f"ach-{signers[i % 2].issuer_id[-1]}", email=f"f{i}@example.org", salt="s",
        credential_id=f"urn:uuid:{i:08x}-0000-4000-8000-{i:012x}" if args.uuid_ids else f"urn:uuid:f{i:07d}"),
        "2024-06-01T10:00:00Z") for i in range(args.documents)]
    bodies = [msgspec.json.encode({"items": [{"credential": d} for d in documents[start:start + BODY]]})
              for start in range(0, len(documents), BODY)]
    freshness = Freshness()
    freshness.caught_up.set()
    freshness.touch(model.position)
    verifier = BatchVerifier(model, freshness, ContextLoader("https://ledger.example"))
    prepared = prepare_verification(documents[0])
    assert prepared is not None
    public = raw_public_key(signers[0].private_key)

    async def whole(sliced: bool = True) -> None:
        for body in bodies:
            entries, plain = await decode_items(body)
            if sliced:
                await verifier.run_sliced(entries, plain=plain)
            else:
                verifier.run(entries, now=NOW, plain=plain)

    async def decode() -> None:
        for body in bodies:
            await decode_items(body)

    def verify() -> None:
        for _ in documents:
            ed25519.verify(public, prepared.signature, prepared.hash_data)

    asyncio.run(whole())  # warm the caches, as a running service's are
    if args.passes is not None:
        for _ in range(args.passes):
            verify() if args.only == "verify" else asyncio.run(decode() if args.only == "decode" else whole(False))
        return
    for _ in range(args.runs):
        cost = [_best(lambda: asyncio.run(whole())), _best(lambda: asyncio.run(decode())), _best(verify)]
        whole_us, decode_us, verify_us = (1e6 * c / len(documents) for c in cost)
        print(f"whole {whole_us:.1f} us/document, decoding {decode_us:.1f}, libsodium verify {verify_us:.1f}, "
              f"beside the verify {whole_us - verify_us:.1f}: verify / whole {verify_us / whole_us:.3f}", flush=True)


def _best(call) -> float:
    seconds = []
    for _ in range(3):
        began = time.thread_time()
        call()
        seconds.append(time.thread_time() - began)
    return min(seconds)


if __name__ == "__main__":
    main()
