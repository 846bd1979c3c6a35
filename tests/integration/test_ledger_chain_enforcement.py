"""The database itself refuses rows that do not extend the hash chain
(shared/db/migrations/0010_chain_enforcement.sql), for the application role
and for the owner alike; the normal append path keeps working."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.migrate import apply_migrations
from shared.ledger.eventstore.chain import chain_hash, entry_bytes
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.ledger.transparency.audit import verify_chain
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted

APP_ROLE = "credledger_app"
PAYLOAD, METADATA = b'{"n":0,"text":"forged"}', b'{"actor":"x","tenant":"y"}'
INSERT = ("INSERT INTO ledger.events (position, stream_id, version, event_type, payload, metadata, prev_hash, hash)"
          " VALUES ($1, 'forged', 1, 'test.Noted', $2, $3, $4, $5)")


async def as_app_role(connection: asyncpg.Connection) -> None:
    await connection.execute(f"SET ROLE {APP_ROLE}")


@pytest.fixture
async def app_pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, setup=as_app_role)
    yield pool
    await pool.close()


@pytest.fixture
async def head(db):
    ledger = Ledger(db, TEST_CATALOG)
    await ledger.append([NewEvent(f"s{i}", Noted(text=str(i))) for i in range(3)], TEST_METADATA)
    return await db.fetchrow("SELECT position, hash FROM ledger.events ORDER BY position DESC LIMIT 1")


def forged_row(position: int, prev_hash: bytes, stream: str = "forged") -> tuple[int, bytes, bytes, bytes, bytes]:
    """A row whose own hash is consistent with the prev_hash it claims."""
    digest = chain_hash(prev_hash, entry_bytes(position, stream, 1, "test.Noted", PAYLOAD, METADATA))
    return position, PAYLOAD, METADATA, prev_hash, digest


@pytest.mark.parametrize("forge, message", [
    (lambda head: forged_row(999_999, head["hash"]), "must continue at position 4"),
    (lambda head: forged_row(head["position"] + 1, bytes(32)), "prev_hash that is not the hash of its predecessor"),
    (lambda head: forged_row(head["position"] + 1, head["hash"])[:4] + (bytes(32),), "hash that does not match"),
], ids=["position-999999", "wrong-prev-hash", "wrong-hash"])
async def test_app_role_cannot_insert_rows_off_the_chain(app_pool, db, head, forge, message):
    with pytest.raises(asyncpg.CheckViolationError, match=message):
        await app_pool.execute(INSERT, *forge(head))
    assert await db.fetchval("SELECT max(position) FROM ledger.events") == head["position"]


async def test_app_role_can_insert_a_row_that_extends_the_chain(app_pool, db, head):
    await app_pool.execute(INSERT, *forged_row(head["position"] + 1, head["hash"]))
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


async def test_app_role_appends_batches_through_the_normal_path(app_pool, db, head):
    positions = await Ledger(app_pool, TEST_CATALOG).append(
        [NewEvent(f"batch-{i % 7}", Noted(text="b", n=i)) for i in range(200)], TEST_METADATA)
    assert positions == list(range(head["position"] + 1, head["position"] + 201))
    async with db.acquire() as conn:
        result = await verify_chain(conn)
    assert result.ok and result.last_position == head["position"] + 200


async def test_the_owner_is_held_to_the_chain_and_migrations_still_apply(db, head):
    with pytest.raises(asyncpg.CheckViolationError, match="must continue at position 4"):
        await db.execute(INSERT, *forged_row(head["position"] + 2, head["hash"]))
    async with db.acquire() as conn:
        assert await apply_migrations(conn) == []
    positions = await Ledger(db, TEST_CATALOG).append([NewEvent("owner", Noted(text="ok"))], TEST_METADATA)
    assert positions == [head["position"] + 1]


async def test_a_copy_batch_with_one_broken_row_writes_nothing(app_pool, db, head):
    first = forged_row(head["position"] + 1, head["hash"], "copy-1")
    second = forged_row(head["position"] + 2, first[4], "copy-2")
    broken = (head["position"] + 3, PAYLOAD, METADATA, second[4], bytes(32))
    columns = ("position", "payload", "metadata", "prev_hash", "hash", "stream_id", "version", "event_type")
    records = [row + (f"copy-{n}", 1, "test.Noted") for n, row in enumerate((first, second, broken), 1)]
    async with app_pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError, match=f"position {broken[0]} has a hash"):
            await conn.copy_records_to_table("events", schema_name="ledger", columns=columns, records=records)
    assert await db.fetchval("SELECT max(position) FROM ledger.events") == head["position"]

