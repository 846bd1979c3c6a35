"""A large claim re-keys learners only while some row still carries a key of
a superseded family (queries.sql, rekey_superseded): the probe must never
skip a row the re-keying would have moved, whenever and by whoever that row
was written. Below, every claim takes that path (PROBED_FROM = 1) unless a
test says otherwise."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os

import asyncpg
import pytest

from services.issuance import store
from services.issuance.contacts import Contacts
from services.issuance.learners import Learner, LearnerKeys, LearnerSecrets, rekeyings
from services.issuance.schemas import LearnerIdentity
from services.issuance.store import QUERIES, CredentialRow
from shared.credential_format import new_credential_id

MASTER = base64.b64encode(b"m" * 32).decode()
OLD_SECRET, NEW_SECRET = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
BEFORE = LearnerSecrets(MASTER, LearnerKeys(OLD_SECRET, legacy_master_b64=MASTER))
AFTER = LearnerSecrets(MASTER, LearnerKeys(NEW_SECRET, [OLD_SECRET], legacy_master_b64=MASTER))
CONTACTS = Contacts(MASTER)


@pytest.fixture(autouse=True)
def every_claim_probed(monkeypatch):
    monkeypatch.setattr(store, "PROBED_FROM", 1)


def learner(secrets: LearnerSecrets, n: int) -> Learner:
    return secrets.learner(LearnerIdentity(email=f"learner{n}@example.org"))


def row(learner: Learner, reference: str, learner_key: str | None = None) -> CredentialRow:
    return CredentialRow(
        new_credential_id(), "uni-1", reference, "ach-1", learner.learner_hash, learner_key or learner.learner_key,
        learner.identity_type, learner.salt, "ab" * 32, "key-1", "hosted", None, dt.datetime.now(dt.UTC), None)


async def claim(conn: asyncpg.Connection, learners: list[Learner], first: int) -> set[str]:
    rows = [row(one, f"R-{first + i}") for i, one in enumerate(learners)]
    return await store.claim_issued(conn, rows, sorted(set(rekeyings(learners))), CONTACTS.sealed(learners))


async def legacy_row(db: asyncpg.Pool, who: Learner, reference: str) -> str:
    """A row as migration 0030 left it: keyed by the old platform-wide identityHash."""
    legacy_key = who.superseded_keys[-1]
    assert legacy_key.startswith("sha256$")
    async with db.acquire() as conn:
        await store.claim_credentials(conn, [row(who, reference, legacy_key)])
        await conn.execute("INSERT INTO issuance.stacks (stack_id, pathway_id, learner_hash, learner_key,"
                           " award_credential_id, component_ids, automatic) VALUES ($1, 'p', 'h', $2, 'a', '{}', true)",
                           f"stack-{reference}", legacy_key)
    return legacy_key


async def keys_of(db: asyncpg.Pool, table: str) -> list[str]:
    return [r["learner_key"] for r in await db.fetch(f"SELECT learner_key FROM issuance.{table} ORDER BY 1")]


class RolledBack(Exception):
    pass


async def rekey_probes(db: asyncpg.Pool, learners: list[Learner]) -> int:
    """How many times the re-keying looked a superseded key up in an index
    (EXPLAIN ANALYZE of the very statement, its writes rolled back)."""
    arguments = store.rekey_superseded_arguments(sorted(set(rekeyings(learners))))
    plan = None
    async with db.acquire() as conn:
        try:
            async with conn.transaction():
                plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + QUERIES["rekey_superseded"], *arguments)
                raise RolledBack
        except RolledBack:
            pass
    assert plan is not None
    return _loops_probing_old_keys(json.loads(plan)[0]["Plan"])


def _loops_probing_old_keys(node: dict) -> int:
    own = node.get("Actual Loops", 0) if "old_key" in node.get("Index Cond", "") else 0
    return own + sum(_loops_probing_old_keys(child) for child in node.get("Plans", ()))


async def test_rows_under_the_legacy_hash_are_re_keyed_at_the_learners_next_issuance(db):
    old_key = await legacy_row(db, learner(AFTER, 1), "OLD-1")
    others = [learner(AFTER, n) for n in range(2, 40)]
    assert await rekey_probes(db, [learner(AFTER, 1), *others]) > 0  # a legacy row remains: probed
    async with db.acquire() as conn, conn.transaction():
        claimed = await claim(conn, [learner(AFTER, 1), *others], 0)
    assert len(claimed) == 39
    current = learner(AFTER, 1).learner_key
    assert old_key not in await keys_of(db, "credentials") + await keys_of(db, "stacks")
    assert (await keys_of(db, "stacks")) == [current]
    assert await db.fetchval("SELECT count(*) FROM issuance.credentials WHERE learner_key = $1", current) == 2


async def test_with_no_row_under_a_superseded_key_the_re_keying_is_skipped(db):
    async with db.acquire() as conn, conn.transaction():
        await claim(conn, [learner(AFTER, n) for n in range(30)], 0)
    later = [learner(AFTER, n) for n in range(30, 60)]
    assert await rekey_probes(db, later) == 0
    async with db.acquire() as conn, conn.transaction():
        assert len(await claim(conn, later, 100)) == 30
    assert len(set(await keys_of(db, "credentials"))) == 60
    # Only the superseded keys' families are probed: a row under a secret
    # this platform no longer knows (no key of it can be re-keyed) does not
    # turn the re-keying back on.
    unknown = LearnerSecrets(MASTER, LearnerKeys(base64.b64encode(os.urandom(32)).decode()))
    async with db.acquire() as conn, conn.transaction():
        await claim(conn, [learner(unknown, 99)], 200)
    assert await rekey_probes(db, [learner(AFTER, n) for n in range(60, 70)]) == 0


async def test_a_superseded_key_written_after_a_skip_is_re_keyed_all_the_same(db):
    async with db.acquire() as conn, conn.transaction():
        await claim(conn, [learner(AFTER, n) for n in range(10)], 0)
    assert await rekey_probes(db, [learner(AFTER, 20)]) == 0
    # An instance still configured with the old secret as its current one
    # (a rolling rotation) issues to learner 20, under the old key.
    async with db.acquire() as conn, conn.transaction():
        await claim(conn, [learner(BEFORE, 20)], 30)
    old_key = learner(BEFORE, 20).learner_key
    assert old_key in await keys_of(db, "credentials") and old_key not in learner(AFTER, 20).learner_key
    assert await rekey_probes(db, [learner(AFTER, 20)]) > 0
    async with db.acquire() as conn, conn.transaction():
        await claim(conn, [learner(AFTER, 20), learner(AFTER, 21)], 50)
    keys = await keys_of(db, "credentials")
    assert old_key not in keys and keys.count(learner(AFTER, 20).learner_key) == 2
    # Nothing of the old family is left: the next issuance skips again.
    assert await rekey_probes(db, [learner(AFTER, 22)]) == 0


async def test_a_large_group_re_keys_in_its_own_statement_and_a_small_one_in_the_claim(db, monkeypatch):
    monkeypatch.setattr(store, "PROBED_FROM", 256)
    small, large = [learner(AFTER, n) for n in range(1, 4)], [learner(AFTER, n) for n in range(10, 310)]
    old_keys = [await legacy_row(db, small[0], "OLD-1"), await legacy_row(db, large[0], "OLD-2")]
    async with db.acquire() as conn, conn.transaction():
        assert len(await claim(conn, small, 0)) == 3
        assert len(await claim(conn, large, 100)) == 300
    keys = await keys_of(db, "credentials") + await keys_of(db, "stacks")
    assert not set(old_keys) & set(keys)
    assert keys.count(small[0].learner_key) == 3 and keys.count(large[0].learner_key) == 3
