"""Real Postgres and a real Kafka-protocol broker for tests and benchmarks.

Postgres: DATABASE_URL if set; else the machine's server on 127.0.0.1:5432
if it answers; else an embedded server in a temporary folder. The broker:
Tansu on a free port. With CREDLEDGER_TESTCONTAINERS=1 and a Docker engine,
both come from testcontainers (Postgres and Apache Kafka images) instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from credledger.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
from shared.db.migrate import with_database

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def use_testcontainers() -> bool:
    return os.environ.get("CREDLEDGER_TESTCONTAINERS") == "1"


def _local_postgres_listens() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin URL (database `postgres`) of a running server."""
    if os.environ.get("DATABASE_URL"):
        yield with_database(os.environ["DATABASE_URL"], "postgres")
    elif use_testcontainers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17", driver=None) as container:
            yield with_database(container.get_connection_url(), "postgres")
    elif _local_postgres_listens():
        yield LOCAL_POSTGRES
    else:
        with tempfile.TemporaryDirectory(prefix="credledger-pg-") as folder:
            server = EmbeddedPostgres(Path(folder) / "pgdata", free_port())
            server.start()
            try:
                yield server.url
            finally:
                server.stop()


@contextlib.contextmanager
def kafka_broker() -> Iterator[str]:
    """Yield a bootstrap address of a running Kafka-protocol broker."""
    if use_testcontainers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = EmbeddedKafka(free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
