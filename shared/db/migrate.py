"""Versioned SQL migrations, applied in order and recorded in a table.

Each component (the shared ledger, then each service) keeps plain SQL files
named `NNNN_description.sql` in its `migrations/` folder. Applying them is
safe to run twice (recorded versions are skipped) and concurrently: a
session-level advisory lock makes a second migrator wait for the first and
then find nothing left to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from shared.db.sql import load_queries

QUERIES = load_queries("shared.db")
log = logging.getLogger(__name__)

# The order matters: services' tables may reference the ledger's schema.
MIGRATION_PACKAGES = (
    "shared.db",
    "shared.web",
    "services.registry",
    "services.issuance",
    "services.revocation",
    "services.verification",
    "services.intake",
    "services.wallet",
    "services.employer",
)
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Arbitrary but fixed: every migrator in every process must agree on it.
MIGRATION_LOCK_KEY = 0x6372_6564_6C64_0001



@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(packages: tuple[str, ...] = MIGRATION_PACKAGES) -> list[Migration]:
    found: list[Migration] = []
    for package in packages:
        folder = resources.files(package).joinpath("migrations")
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            match = _FILENAME.match(entry.name)
            if match:
                found.append(
                    Migration(package, int(match[1]), match[2], entry.read_text("utf-8"))
                )
    return found


class MigrationDrift(RuntimeError):
    """An applied migration's file changed afterwards: refuse to guess."""


async def apply_migrations(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration; return the ones applied by this call."""
    migrations = discover() if migrations is None else migrations
    await conn.execute(QUERIES["lock_migrations"], MIGRATION_LOCK_KEY)
    try:
        await conn.execute(QUERIES["create_bookkeeping"])
        rows = await conn.fetch(QUERIES["applied_migrations"])
        applied = {(r["component"], r["version"]): r["checksum"] for r in rows}
        done: list[Migration] = []
        for migration in migrations:
            key = (migration.component, migration.version)
            if key in applied:
                if applied[key] != migration.checksum:
                    raise MigrationDrift(
                        f"{migration.component} {migration.version:04d}_{migration.name} "
                        "was edited after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    QUERIES["record_migration"],
                    migration.component, migration.version, migration.name, migration.checksum,
                )
            log.info("applied migration", extra={"component": migration.component,
                                                 "version": migration.version, "migration": migration.name})
            done.append(migration)
        return done
    finally:
        await conn.execute(QUERIES["unlock_migrations"], MIGRATION_LOCK_KEY)


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` if it does not exist yet."""
    name = database_name(dsn)
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        exists = await conn.fetchval(QUERIES["database_exists"], name)
        if not exists:
            # Another process may create it between our check and our create.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                # Dynamic on purpose: a database name is an identifier, which
                # no parameter can carry (database_name refuses a '"' in it).
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def database_name(dsn: str) -> str:
    name = urlsplit(dsn).path.lstrip("/")
    if not name or '"' in name:
        raise ValueError(f"the database URL must name a database: {dsn!r}")
    return name


APP_ROLE = "credledger_app"


def with_user(dsn: str, user: str, password: str | None = None) -> str:
    """The same server and database, another role."""
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    login = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{login}@{host}{port}"))


async def set_app_role_password(conn: asyncpg.Connection, app_dsn: str) -> bool:
    """Give `credledger_app` the password of `app_dsn` when that URL logs in
    as it with one: the deployment keeps the password in one place."""
    parts = urlsplit(app_dsn)
    if parts.username != APP_ROLE or not parts.password:
        return False
    # ALTER ROLE takes no parameters: Postgres's format() quotes the name and
    # the password, and the statement it returns is run as is.
    statement = await conn.fetchval(QUERIES["alter_role_password_statement"],
                                    APP_ROLE, unquote(parts.password))
    await conn.execute(statement)
    return True


def with_database(dsn: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))
