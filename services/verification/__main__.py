"""Run the verification service: `python -m services.verification [--workers N]`
or `credledger serve verification` (one process). See workers.py for N > 1."""

from __future__ import annotations

import argparse

from services.verification.app import create_app
from services.verification.workers import run_workers
from shared.service import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.verification")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (default 1)")
    args = parser.parse_args()
    if args.workers <= 1:
        serve("verification", create_app)
    else:
        run_workers(args.workers)


if __name__ == "__main__":
    main()
