"""Kafka command intake end to end, beside the HTTP batch path in the same run.

    python bench/ingress.py [--credentials 20000] [--batch 10000]

The issuance service and the intake run as their own processes (as
`credledger up` runs them) on a fresh database of the local Postgres and the
embedded broker. Two figures, each for `--credentials` fresh credentials of
one issuer:

- HTTP batch: `POST /v1/credentials/batch`, `--batch` per request, two at a
  time, until every response is back (signed, appended, durable);
- Kafka intake: signed `issue_credential` commands (signed before the clock
  starts: a university's system signs as it emits) published to the
  commands topic, until every outcome is read back from the reply topic
  (signed, appended, outcome recorded, published).

Beside them, raw Ed25519 signing on one core, the floor of both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench._support import Timer, bench_database_name, bench_postgres, fresh_database, report  # noqa: E402
from bench.issue_bulk import ACHIEVEMENT, EPOCH, ISSUER, issue_all, raw_signing_rate, registry_world  # noqa: E402
from credledger.backends import kafka_broker  # noqa: E402
from credledger.embedded import free_port, stop_process  # noqa: E402
from credledger.stack import spawn, wait_ready  # noqa: E402
from services.intake.commands import IntakeTopics, IssueCredential  # noqa: E402
from services.intake.signature import sign_command  # noqa: E402
from services.issuance.schemas import CredentialRequest, LearnerIdentity  # noqa: E402
from shared.bus import ensure_topics, new_producer, partitions_of  # noqa: E402
from shared.credential_format import issuer_did, verification_method  # noqa: E402
from shared.crypto.eddsa_jcs import raw_public_key  # noqa: E402
from shared.crypto.multibase import public_key_to_multibase  # noqa: E402
from shared.events import CATALOG  # noqa: E402
from shared.events import registry as ev  # noqa: E402
from shared.ledger.eventstore.events import Metadata  # noqa: E402
from shared.ledger.eventstore.store import Ledger, NewEvent  # noqa: E402
from shared.settings import Settings, load_settings  # noqa: E402

COMMAND_KEY = "cmd-key"


async def add_command_key(pool: asyncpg.Pool) -> Ed25519PrivateKey:
    """The issuer's own (issuer_held) key, which signs its commands."""
    private_key = Ed25519PrivateKey.generate()
    await Ledger(pool, CATALOG).append([NewEvent(f"issuer:{ISSUER}", ev.IssuerKeyAdded(
        issuer_id=ISSUER, key_id=COMMAND_KEY, public_key_multibase=public_key_to_multibase(
            raw_public_key(private_key)), custody="issuer_held", valid_from=EPOCH))],
        Metadata(actor="bench", tenant="platform"))
    return private_key


def commands(settings: Settings, key: Ed25519PrivateKey, first: int, total: int) -> dict[str, bytes]:
    kid = verification_method(issuer_did(settings.public_base_url, ISSUER), COMMAND_KEY)
    signed = {}
    for n in range(first, first + total):
        command = IssueCredential(command_id=str(uuid.uuid4()), issuer_id=ISSUER, credential=CredentialRequest(
            reference=f"SIS-{n:07d}", achievement_id=ACHIEVEMENT, issued_on="2026-06-30", grade="B",
            learner=LearnerIdentity(email=f"learner{n}@example.org")))
        signed[command.command_id] = sign_command(command, key, kid)
    return signed


async def push_and_wait(settings: Settings, signed: dict[str, bytes]) -> int:
    """Publish the commands; return how many outcomes said issued."""
    topics = IntakeTopics.named(settings.kafka_topic_prefix)
    replies = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                               fetch_max_wait_ms=100)
    await replies.start()
    partitions = await partitions_of(replies, topics.outcomes)
    replies.assign(partitions)
    await replies.seek_to_end(*partitions)
    for partition in partitions:
        await replies.position(partition)
    producer = new_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        sends = [await producer.send(topics.commands, value, key=ISSUER.encode()) for value in signed.values()]
        await asyncio.gather(*sends)
        waiting, issued = set(signed), 0
        while waiting:
            for part in (await replies.getmany(timeout_ms=500)).values():
                for record in part:
                    if record.key.decode() in waiting:
                        waiting.discard(record.key.decode())
                        issued += b'"outcome":"issued"' in record.value
        return issued
    finally:
        await producer.stop()
        await replies.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"ingress_{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    with bench_postgres() as admin_url, kafka_broker() as bootstrap:
        async with fresh_database(admin_url, bench_database_name("ingress")) as database_url:
            settings = load_settings(
                environ={}, database_url=database_url, kafka_bootstrap_servers=bootstrap,
                kafka_topic_prefix=f"bench{os.getpid()}", issuance_port=free_port(), intake_port=free_port(),
                master_key=base64.b64encode(os.urandom(32)).decode(),
                log_level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                max_bulk_body_bytes=64 * 1024 * 1024)
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
            await registry_world(pool, settings)
            key = await add_command_key(pool)
            await ensure_topics(bootstrap, IntakeTopics.named(settings.kafka_topic_prefix).all,
                                settings.kafka_partitions)
            service = spawn(["serve", "issuance"], settings, logs, "issuance")
            intake = spawn(["intake"], settings, logs, "intake")
            url = settings.url_of("issuance")
            try:
                wait_ready(url, service)
                wait_ready(f"http://{settings.host}:{settings.intake_port}", intake)
                total = args.credentials
                warm_up = 1000  # starts both processes' signing pools
                await issue_all(url, 3 * total, warm_up, warm_up, 1)
                await push_and_wait(settings, commands(settings, key, 3 * total + warm_up, warm_up))
                raw_sign = raw_signing_rate()
                report("raw Ed25519 sign, one core", raw_sign, "signatures/s")
                with Timer() as http:
                    issued_http = await issue_all(url, 0, total, args.batch, 2)
                report(f"HTTP batch ({issued_http:,}, {args.batch:,} per request)", issued_http / http.seconds,
                       "credentials/s", raw_sign, "raw sign")
                signed = commands(settings, key, total, total)
                with Timer() as kafka:
                    issued_kafka = await push_and_wait(settings, signed)
                report(f"Kafka intake ({issued_kafka:,} commands, outcomes read back)",
                       issued_kafka / kafka.seconds, "commands/s", raw_sign, "raw sign")
                report("", issued_kafka / kafka.seconds, "commands/s", issued_http / http.seconds, "HTTP batch")
                count = await pool.fetchval("SELECT count(*) FROM issuance.credentials")
                assert issued_http == issued_kafka == total and count == 2 * total + 2 * warm_up, (
                    issued_http, issued_kafka, count)
            finally:
                stop_process(intake)
                stop_process(service)
                await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
