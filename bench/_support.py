"""Shared set-up for benchmark scripts: a fresh, migrated database and a
report line format that always puts a figure beside its raw limit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg

from credledger.backends import postgres_server
from shared.db.migrate import apply_migrations, with_database


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str, name: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    conn = await asyncpg.connect(url)
    await apply_migrations(conn)
    await conn.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.contextmanager
def bench_postgres() -> Iterator[str]:
    with postgres_server() as admin_url:
        yield admin_url


def bench_database_name(script: str) -> str:
    return f"credledger_bench_{script}_{os.getpid()}"


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def report(label: str, value: float, unit: str, raw: float | None = None, raw_label: str = "") -> None:
    line = f"{label:<48} {value:>14,.0f} {unit}"
    if raw:
        line += f"   ({value / raw:.2f} x {raw_label} {raw:,.0f})"
    print(line, flush=True)


def run(main) -> None:
    asyncio.run(main())
