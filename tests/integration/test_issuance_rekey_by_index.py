"""A claim's re-keying of learners seen again goes by the learner_key index,
never by a scan of the whole credentials table (migrations 0310, 0320):
every issuance group re-keys (each learner has superseded keys), so a scan
there made each group's cost grow with the number of credentials ever
issued, also on a connection that planned the claim while the table was
still small. The rows that move are the same as before."""

from __future__ import annotations

import os

import asyncpg
import pytest

from services.issuance import store
from services.issuance.learners import Learner, rekeyings
from tests.integration.test_issuance_rekey_skip import AFTER, CONTACTS, keys_of, learner, legacy_row, row

# Enough rows that the planner, without statistics, scanned them all for the join alone.
BACKGROUND_ROWS = 20_000


async def _many_credentials(db: asyncpg.Pool, analysed: bool) -> None:
    await db.execute(
        "INSERT INTO issuance.credentials (credential_id, issuer_id, issuer_reference, achievement_id, learner_hash,"
        " learner_key, identity_type, identity_salt, holder_token_hash, key_id, signing, valid_from)"
        " SELECT 'urn:uuid:' || gen_random_uuid(), 'uni-1', 'BG-' || n, 'ach-1', 'sha256$' || md5(n::text),"
        " 'lk$bg$' || md5(n::text), 'emailAddress', md5(n::text), $1, 'key-1', 'hosted', now()"
        " FROM generate_series(1, $2) AS n", "ab" * 32, BACKGROUND_ROWS)
    # Not analysed is a young database before autovacuum first gets to it:
    # without statistics the planner had the join alone read every row.
    if analysed:
        await db.execute("ANALYZE issuance.credentials")


async def _sequential_scans(conn: asyncpg.Connection, table: str) -> int:
    scans = await conn.fetchval("SELECT seq_scan FROM pg_stat_xact_user_tables"
                                " WHERE schemaname = 'issuance' AND relname = $1", table)
    return int(scans or 0)


async def _claimed_without_scanning(db: asyncpg.Pool, learners: list[Learner]) -> set[str]:
    async with db.acquire() as conn:
        return await _claimed_on(conn, learners)


async def _claimed_on(conn: asyncpg.Connection, learners: list[Learner]) -> set[str]:
    async with conn.transaction():
        claimed = await store.claim_issued(conn, [row(one, f"R-{os.urandom(4).hex()}") for one in learners],
                                           sorted(set(rekeyings(learners))), CONTACTS.sealed(learners))
        assert await _sequential_scans(conn, "credentials") == 0
        assert await _sequential_scans(conn, "stacks") == 0
    return claimed


@pytest.mark.parametrize("analysed", [False, True])
async def test_a_group_claim_re_keys_by_index_not_by_scanning_every_credential(db, analysed):
    await _many_credentials(db, analysed)
    returning = learner(AFTER, 1)
    old_key = await legacy_row(db, returning, "OLD-1")
    group = [returning, *(learner(AFTER, n) for n in range(2, 22))]
    assert len(await _claimed_without_scanning(db, group)) == len(group)
    assert old_key not in await keys_of(db, "credentials") + await keys_of(db, "stacks")
    assert await db.fetchval("SELECT count(*) FROM issuance.credentials WHERE learner_key = $1",
                             returning.learner_key) == 2


@pytest.mark.parametrize("analysed", [False, True])
async def test_the_separate_re_keying_statements_go_by_index_too(db, analysed):
    await _many_credentials(db, analysed)
    returning = learner(AFTER, 1)
    old_key = await legacy_row(db, returning, "OLD-1")
    async with db.acquire() as conn, conn.transaction():
        await store.rekey_learners(conn, rekeyings([returning, *(learner(AFTER, n) for n in range(2, 22))]))
        assert await _sequential_scans(conn, "credentials") == 0
    assert old_key not in await keys_of(db, "credentials") + await keys_of(db, "stacks")
    assert returning.learner_key in await keys_of(db, "stacks")


async def test_a_claim_planned_on_a_young_table_still_re_keys_by_index_once_it_grew(db):
    # PL/pgSQL keeps the plan a connection first made (a generic one after
    # five runs): made on a near-empty table it was a scan, kept as the table
    # grew until autovacuum analysed it. A service's connections all start so.
    async with db.acquire() as conn:
        for n in range(8):
            assert len(await _claimed_on(conn, [learner(AFTER, 100 + n)])) == 1
        await _many_credentials(db, analysed=False)
        returning = learner(AFTER, 1)
        old_key = await legacy_row(db, returning, "OLD-1")
        group = [returning, *(learner(AFTER, n) for n in range(2, 22))]
        assert len(await _claimed_on(conn, group)) == len(group)
    assert old_key not in await keys_of(db, "credentials") + await keys_of(db, "stacks")
    assert await db.fetchval("SELECT count(*) FROM issuance.credentials WHERE learner_key = $1",
                             returning.learner_key) == 2
