"""The services' database role: what the settings every test and service
uses log in as, and what that role may not do."""

from __future__ import annotations

import asyncpg
import pytest

from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


@pytest.fixture
async def app_pool(settings):
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def test_services_log_in_as_the_app_role_and_can_append(app_pool):
    assert await app_pool.fetchval("SELECT current_user") == "credledger_app"
    assert await Ledger(app_pool, TEST_CATALOG).append([NewEvent("s", Noted(text="ok"))], TEST_METADATA) == [1]


@pytest.mark.parametrize("statement", [
    "UPDATE ledger.events SET payload = payload",
    "DELETE FROM ledger.events",
    "TRUNCATE ledger.events",
    "DELETE FROM ledger.checkpoints",
    "CREATE TABLE ledger.sneaky (x int)",
    "ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_delete",
    "LOCK TABLE ledger.events IN ACCESS EXCLUSIVE MODE",
])
async def test_the_app_role_may_not_rewrite_or_change_the_schema(app_pool, statement):
    async with app_pool.acquire() as conn, conn.transaction():
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
