"""The verifier's optional C accelerator for eddsa-jcs-2022 proofs
(_jcsproof.c, built by setup.py), or None: an install without a compiler or
the OpenSSL headers, or CREDLEDGER_JCS_NATIVE=0 (to rule it out, or to
measure the Python code it stands in for)."""

from __future__ import annotations

import os

__all__ = ["jcsproof"]

try:
    from shared.crypto import _jcsproof as jcsproof
except ImportError:  # pragma: no cover - built wherever the tests run
    jcsproof = None  # type: ignore[assignment]

if os.environ.get("CREDLEDGER_JCS_NATIVE", "1") == "0":
    jcsproof = None  # type: ignore[assignment]
