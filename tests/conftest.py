"""Session fixtures: a real Postgres, a real broker, a migrated template
database cloned per test (grants come along), and settings pointing at both.
The settings log in as the least-privileged `credledger_app` role, as the
services do in production; `database_url` and `db` are the owner's, for
tests that set up, inspect or tamper with what the role may not."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from credledger.backends import kafka_broker, postgres_server
from shared.db.migrate import APP_ROLE, apply_migrations, set_app_role_password, with_database, with_user
from shared.settings import Settings, load_settings

BOOTSTRAP_ADMIN_KEY = "test-bootstrap-admin-key"
APP_PASSWORD_ENV = "CREDLEDGER_TEST_APP_DB_PASSWORD"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with kafka_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
async def template_database(postgres_admin_url: str) -> AsyncIterator[str]:
    """A database migrated once per session; each test clones it (fast)."""
    name = f"credledger_tpl_{os.getpid()}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(postgres_admin_url, name))
    try:
        await apply_migrations(conn)
        if APP_PASSWORD_ENV in os.environ:  # a server that wants passwords (opt-in: roles are cluster-wide)
            await set_app_role_password(conn, app_url(postgres_admin_url))
    finally:
        await conn.close()
    yield name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def database_url(postgres_admin_url: str, template_database: str) -> AsyncIterator[str]:
    name = f"credledger_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield with_database(postgres_admin_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def app_url(owner_url: str) -> str:
    """The services' role: trusted by the local and embedded test servers,
    or logging in with $CREDLEDGER_TEST_APP_DB_PASSWORD."""
    return with_user(owner_url, APP_ROLE, os.environ.get(APP_PASSWORD_ENV))


@pytest.fixture
def app_database_url(database_url: str) -> str:
    return app_url(database_url)


@pytest.fixture
def settings(app_database_url: str, database_url: str, kafka_bootstrap: str) -> Settings:
    # A topic prefix per test: tests share one broker but never each other's events.
    return load_settings(
        environ={},
        database_url=app_database_url,
        migration_database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        kafka_partitions=3,
        bootstrap_admin_key=BOOTSTRAP_ADMIN_KEY,
        environment="test",
        max_body_bytes=64 * 1024,
        log_format="text",
        log_signing_key=base64.b64encode(os.urandom(32)).decode(),
        master_key=base64.b64encode(os.urandom(32)).decode(),
        checkpoint_every_events=100,
        checkpoint_every_seconds=0.5,
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
    yield pool
    await pool.close()
