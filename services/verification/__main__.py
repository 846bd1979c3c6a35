"""Run the verification service: `python -m services.verification [--workers N]`
(one process per core unless told) or `credledger serve verification` (one
process). See workers.py for N > 1."""

from __future__ import annotations

import argparse
import os

from services.verification.app import create_app
from services.verification.workers import run_workers
from shared.service import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.verification")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=cores,
                        help=f"processes sharing the listening socket (default: one per core, {cores} here)")
    args = parser.parse_args()
    if args.workers <= 1:
        serve("verification", create_app)
    else:
        run_workers(args.workers)


if __name__ == "__main__":
    main()
