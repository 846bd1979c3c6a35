"""`credledger audit verify`: recompute the hash chain from the database and
check every signed checkpoint against the Merkle tree recomputed from it."""

from __future__ import annotations

import asyncio
import sys

from tqdm import tqdm

from shared.ledger.transparency.audit import AuditResult
from shared.ledger.transparency.checkpoints import LogSigner
from shared.ledger.transparency.parallel_audit import LogTrust, head_position, stored_log_keys, verify_chain_parallel
from shared.ledger.transparency.signed_note import NoteError, Verifier
from shared.settings import Settings


def log_trust(settings: Settings, vkeys: list[str]) -> LogTrust:
    """The keys checkpoints must be signed by: given on the command line, else
    the log's own key from the settings, else (said aloud, since the audited
    database is then trusted for them) the keys recorded in the ledger."""
    if not vkeys and settings.log_signing_key:
        vkeys = [LogSigner(settings.log_origin, settings.log_signing_key).vkey]
    if not vkeys:
        vkeys = stored_log_keys(settings.database_url)
        print("note: no --log-key and no CREDLEDGER_LOG_SIGNING_KEY; trusting the log keys stored in the"
              " audited database", file=sys.stderr)
    return LogTrust(settings.log_origin, tuple(Verifier.parse(v) for v in vkeys))


def audit_verify(settings: Settings, from_position: int, workers: int | None = None,
                 vkeys: list[str] | None = None) -> int:
    database_url = settings.database_url
    try:
        trust = log_trust(settings, vkeys or [])
    except (NoteError, ValueError) as exc:
        print(f"FAILED: unusable log key: {exc}")
        return 2
    total = max(asyncio.run(head_position(database_url)) - max(from_position, 1) + 1, 0)
    with tqdm(total=total, unit="ev", unit_scale=True, disable=not sys.stderr.isatty(),
              desc="verifying", file=sys.stderr) as bar:
        result = verify_chain_parallel(database_url, from_position, workers=workers, progress=bar.update,
                                       trust=trust)
    print(_report(result))
    return 0 if result.ok else 1


def _report(result: AuditResult) -> str:
    if result.first_bad_checkpoint is not None:
        return (f"FAILED at checkpoint of tree size {result.first_bad_checkpoint}: {result.reason} (the chain"
                f" itself verified for positions {result.from_position}..{result.last_position};"
                f" {result.checkpoints_checked} earlier checkpoint(s) matched)")
    if not result.ok:
        return (f"FAILED at position {result.first_bad_position}: {result.reason} "
                f"({result.checked} events verified before it)")
    checkpoints = (f"{result.checkpoints_checked} signed checkpoint(s) match the recomputed tree"
                   if result.from_position == 1 else "checkpoints not checked: they need the tree from position 1")
    return (f"ok: positions {result.from_position}..{result.last_position} verified "
            f"({result.checked} events); {checkpoints}")
