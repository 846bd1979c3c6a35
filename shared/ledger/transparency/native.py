"""The audit's optional C accelerator (_chunkhash.c, built by setup.py), or
None: an install without a compiler, or CREDLEDGER_AUDIT_NATIVE=0 (to rule
it out, or to measure the Python readers it stands in for)."""

from __future__ import annotations

import os

__all__ = ["chunkhash"]

try:
    from shared.ledger.transparency import _chunkhash as chunkhash
except ImportError:  # pragma: no cover - built wherever the tests run
    chunkhash = None  # type: ignore[assignment]

if os.environ.get("CREDLEDGER_AUDIT_NATIVE", "1") == "0":
    chunkhash = None  # type: ignore[assignment]
