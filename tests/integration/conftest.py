"""Fixtures of the integration tests that start services: one registry server
and database per test module (see tests/support/registry.py for why)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.registry.app import create_app
from shared.db.migrate import with_database
from shared.settings import Settings
from tests.support.http import serving
from tests.support.registry import test_settings


@pytest.fixture(scope="module")
async def registry_settings(
    postgres_admin_url: str, template_database: str, kafka_bootstrap: str
) -> AsyncIterator[Settings]:
    name = f"credledger_registry_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield test_settings(with_database(postgres_admin_url, name), kafka_bootstrap)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def registry_db(registry_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    # The owner: tests set up and inspect what the services' role may not.
    pool = await asyncpg.create_pool(registry_settings.migration_database_url, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def registry(registry_settings: Settings) -> AsyncIterator[TestClient]:
    async with serving(create_app, registry_settings) as client:
        yield client
