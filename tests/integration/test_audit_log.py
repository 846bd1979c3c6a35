"""The audit log: tampering is caught by `audit verify` and by proofs
against a checkpoint signed before the rewrite."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys

import pytest

from shared.ledger.eventstore.chain import entry_bytes
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.ledger.transparency.audit import verify_chain
from shared.ledger.transparency.checkpoints import Checkpointer, LogSigner, LogTree
from shared.ledger.transparency.merkle import verify_consistency, verify_inclusion
from shared.ledger.transparency.signed_note import Checkpoint, verify_checkpoint
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted
from tests.support.processes import ROOT
from tests.support.waiting import eventually


@pytest.fixture
async def ledger_with_100(db) -> Ledger:
    ledger = Ledger(db, TEST_CATALOG)
    await ledger.append([NewEvent(f"s{i % 7}", Noted(text=f"e{i}", n=i)) for i in range(100)], TEST_METADATA)
    return ledger


async def superuser_rewrite(db, sql: str, *args) -> None:
    """What an attacker with superuser rights could do: bypass the trigger."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_delete")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE ledger.events ENABLE TRIGGER events_no_update_delete")


async def rewrite_from(db, position: int) -> None:
    """A full rewrite by the owner: forge one payload and recompute every
    later hash, so the chain alone verifies again."""
    rows = await db.fetch("SELECT * FROM ledger.events WHERE position >= $1 ORDER BY position", position)
    prev = rows[0]["prev_hash"]
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_delete")
        for row in rows:
            payload = b'{"n":0,"text":"rewritten"}' if row["position"] == position else row["payload"]
            digest = hashlib.sha256(prev + entry_bytes(row["position"], row["stream_id"], row["version"],
                                                       row["event_type"], payload, row["metadata"])).digest()
            await conn.execute("UPDATE ledger.events SET payload = $2, prev_hash = $3, hash = $4"
                               " WHERE position = $1", row["position"], payload, prev, digest)
            prev = digest
        await conn.execute("ALTER TABLE ledger.events ENABLE TRIGGER events_no_update_delete")
        assert (await verify_chain(conn)).ok  # the chain alone is fooled


def run_audit_cli(database_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "credledger", "audit", "verify", *args],
        env={**os.environ, "DATABASE_URL": database_url, **(env or {})}, cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )


async def test_intact_chain_verifies_via_cli(ledger_with_100, database_url):
    result = run_audit_cli(database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "positions 1..100 verified" in result.stdout
    assert run_audit_cli(database_url, "--from", "50").returncode == 0


async def test_edited_payload_is_caught_at_its_position(ledger_with_100, db, database_url):
    await superuser_rewrite(db, "UPDATE ledger.events SET payload = $1 WHERE position = 37",
                            b'{"n":1000,"text":"forged"}')
    async with db.acquire() as conn:
        result = await verify_chain(conn)
    assert (result.ok, result.first_bad_position, result.checked) == (False, 37, 36)
    assert "hash mismatch" in result.reason
    cli = run_audit_cli(database_url)
    assert cli.returncode == 1
    assert "FAILED at position 37" in cli.stdout


async def test_rehashed_entry_breaks_the_next_link(ledger_with_100, db, database_url):
    row = await db.fetchrow("SELECT * FROM ledger.events WHERE position = 37")
    forged = b'{"n":37,"text":"forged"}'
    entry = entry_bytes(37, row["stream_id"], row["version"], row["event_type"], forged, row["metadata"])
    new_hash = hashlib.sha256(row["prev_hash"] + entry).digest()
    await superuser_rewrite(db, "UPDATE ledger.events SET payload = $1, hash = $2 WHERE position = 37",
                            forged, new_hash)
    async with db.acquire() as conn:
        result = await verify_chain(conn)
    assert (result.ok, result.first_bad_position) == (False, 38)
    assert "predecessor link" in result.reason


async def test_full_rewrite_passes_the_chain_but_not_the_signed_checkpoint(ledger_with_100, db):
    """An attacker who recomputes every later hash defeats the chain check
    alone; a checkpoint signed earlier still exposes the rewrite."""
    signer = LogSigner("test.example/log", base64.b64encode(os.urandom(32)).decode())
    before = LogTree()
    async with db.acquire() as conn:
        await before.catch_up(conn)
    checkpoint_note = signer.sign_tree(before)
    honest_leaf_37 = before.tree.leaf(36)

    await rewrite_from(db, 37)

    checkpoint = verify_checkpoint(checkpoint_note, signer.vkey)
    after = LogTree()
    async with db.acquire() as conn:
        await after.catch_up(conn)
    rewritten_leaf_37 = after.tree.leaf(36)
    proof = after.tree.inclusion_proof(36, 100)
    assert verify_inclusion(36, 100, honest_leaf_37, before.tree.inclusion_proof(36, 100), checkpoint.root_hash)
    assert not verify_inclusion(36, 100, rewritten_leaf_37, proof, checkpoint.root_hash)
    assert after.tree.root(100) != checkpoint.root_hash
    # Even an untouched entry's proof, served by the rewritten log, no longer
    # matches the old checkpoint: the rewrite is visible to every verifier.
    leaf5 = before.tree.leaf(4)
    assert after.tree.leaf(4) == leaf5
    assert verify_inclusion(4, 100, leaf5, before.tree.inclusion_proof(4, 100), checkpoint.root_hash)
    assert not verify_inclusion(4, 100, leaf5, after.tree.inclusion_proof(4, 100), checkpoint.root_hash)
    # The untouched prefix is still consistent; the rewritten log is not.
    assert after.tree.root(36) == before.tree.root(36)
    assert not verify_consistency(36, 100, after.tree.root(36), checkpoint.root_hash,
                                  after.tree.consistency_proof(36, 100))


async def test_parallel_verify_reports_the_first_break_across_ranges(ledger_with_100, db, database_url, monkeypatch):
    from shared.ledger.transparency import parallel_audit

    monkeypatch.setattr(parallel_audit, "RANGE_SIZE", 10)  # ten ranges, verified by two processes
    sessions = "SELECT sessions, sessions_abandoned FROM pg_stat_database WHERE datname = current_database()"
    backends = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    opened, abandoned = await db.fetchrow(sessions)
    present = await db.fetchval(backends)
    intact = await asyncio.to_thread(parallel_audit.verify_chain_parallel, database_url, workers=2)
    assert (intact.ok, intact.checked, intact.last_position) == (True, 100, 100)
    # A backend flushes its session counts as it exits: once the audit's are
    # gone, the counts are final.
    await eventually(lambda: db.fetchval(f"SELECT true WHERE ({backends}) = $1", present))
    after, abandoned_after = await db.fetchrow(sessions)
    # One connection for the head, one per worker for all its ranges (a
    # worker may have taken all ten ranges), each closed, none abandoned; a
    # connection a range would have been eleven.
    assert (after - opened in (2, 3), abandoned_after) == (True, abandoned)
    await superuser_rewrite(db, "UPDATE ledger.events SET payload = $1 WHERE position IN (37, 81)",
                            b'{"n":1000,"text":"forged"}')
    broken = await asyncio.to_thread(parallel_audit.verify_chain_parallel, database_url, workers=2)
    assert (broken.ok, broken.first_bad_position, broken.checked) == (False, 37, 36)
    assert "hash mismatch" in broken.reason


@pytest.fixture
async def checkpointed_ledger(db, settings) -> list[int]:
    """100 events with checkpoints signed by the real checkpointer at 30, 60 and 100."""
    ledger = Ledger(db, TEST_CATALOG)
    checkpointer = Checkpointer(settings.database_url, LogSigner(settings.log_origin, settings.log_signing_key),
                                every_events=1000, every_seconds=0.05, poll_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(checkpointer.run(stop))
    try:
        for size in (30, 60, 100):
            head = await ledger.head_position()
            await ledger.append([NewEvent(f"s{i % 7}", Noted(text=f"e{i}", n=i)) for i in range(head, size)],
                                TEST_METADATA)
            await eventually(
                lambda size=size: db.fetchval("SELECT true FROM ledger.checkpoints WHERE tree_size = $1", size))
    finally:
        stop.set()
        await task
    return [r["tree_size"] for r in await db.fetch("SELECT tree_size FROM ledger.checkpoints ORDER BY 1")]


def log_env(settings) -> dict[str, str]:
    return {"CREDLEDGER_LOG_SIGNING_KEY": settings.log_signing_key, "CREDLEDGER_LOG_ORIGIN": settings.log_origin}


async def test_cli_checks_every_signed_checkpoint(checkpointed_ledger, settings, database_url):
    assert checkpointed_ledger == [30, 60, 100]
    result = run_audit_cli(database_url, env=log_env(settings))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 signed checkpoint(s) match the recomputed tree" in result.stdout


async def test_cli_fails_a_full_rewrite_naming_the_first_contradicted_checkpoint(
        checkpointed_ledger, settings, db, database_url):
    await rewrite_from(db, 37)
    result = run_audit_cli(database_url, env=log_env(settings))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED at checkpoint of tree size 60" in result.stdout
    assert "1 earlier checkpoint(s) matched" in result.stdout


async def test_cli_refuses_checkpoints_re_signed_by_another_key(checkpointed_ledger, settings, db, database_url):
    """A rewriter who also replaces every checkpoint needs the log's key:
    their own key, even recorded in ledger.log_keys, is not the trusted one."""
    await rewrite_from(db, 37)
    forger = LogSigner(settings.log_origin, base64.b64encode(os.urandom(32)).decode())
    tree = LogTree()
    async with db.acquire() as conn, conn.transaction():
        await tree.catch_up(conn)
        await conn.execute("ALTER TABLE ledger.checkpoints DISABLE TRIGGER checkpoints_no_update_delete")
        await conn.execute("DELETE FROM ledger.checkpoints")
        await conn.execute("DELETE FROM ledger.log_keys")
        await conn.execute("INSERT INTO ledger.log_keys (vkey) VALUES ($1)", forger.vkey)
        for size in checkpointed_ledger:
            note = forger.sign(Checkpoint(settings.log_origin, size, tree.tree.root(size)))
            await conn.execute("INSERT INTO ledger.checkpoints (tree_size, root_hash, signed_note)"
                               " VALUES ($1, $2, $3)", size, tree.tree.root(size), note)
        await conn.execute("ALTER TABLE ledger.checkpoints ENABLE TRIGGER checkpoints_no_update_delete")
    log_vkey = LogSigner(settings.log_origin, settings.log_signing_key).vkey
    result = run_audit_cli(database_url, "--log-key", log_vkey)
    assert result.returncode == 1
    assert "FAILED at checkpoint of tree size 30: no trusted log key signed it" in result.stdout
    # Trusting the keys stored in the audited database is exactly what this
    # rewrite defeats, which is why the command says so when it has to.
    trusting_the_database = run_audit_cli(database_url)
    assert "trusting the log keys stored in the audited database" in trusting_the_database.stderr


async def test_cli_detects_a_truncated_ledger(checkpointed_ledger, settings, db, database_url):
    await superuser_rewrite(db, "DELETE FROM ledger.events WHERE position > 80")
    result = run_audit_cli(database_url, env=log_env(settings))
    assert result.returncode == 1
    assert "FAILED at checkpoint of tree size 100: the ledger ends at position 80" in result.stdout
