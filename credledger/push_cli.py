"""`credledger push --csv FILE --achievement ID`: a registrar's CSV as Kafka commands.

The same file, columns, options and results file as `credledger issue`
(issue_cli.py), but each row travels as a signed `issue_credential` command
through the broker to the intake (services/intake), and its outcome comes
back on the reply topic. The API key only tells which issuer this is
(`GET /v1/whoami`); the commands are signed with the issuer's own key
(`--signing-key`, an issuer_held key registered in the registry).

Resumable like `issue`: rows already issued in the results file are
skipped; a row re-sent after a crash is answered as existing (the
reference is the idempotency key). Holder tokens do not travel on the
shared reply topic, so that column stays empty (fetch them over HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credledger.issue_cli import (
    IssueError,
    ResultsFile,
    batches,
    call_json,
    check_rows,
    previous_results,
    read_rows,
    result_row,
    to_item,
)
from services.intake.commands import IntakeTopics, IssueCredential
from services.intake.signature import sign_command
from services.issuance.schemas import CredentialRequest
from shared.bus import ensure_topics, new_producer, partitions_of
from shared.credential_format import issuer_did, verification_method
from shared.crypto.eddsa_jcs import signing_key_from_seed
from shared.settings import Settings, load_settings


@dataclass(frozen=True)
class Pusher:
    issuer_id: str
    kid: str
    private_key: Ed25519PrivateKey
    bootstrap: str
    topics: IntakeTopics
    partitions: int


async def push_csv(pusher: Pusher, csv_path: Path, achievement_id: str, out_path: Path | None = None,
                   batch_size: int = 1000, timeout: float = 300.0, show_progress: bool = True) -> int:
    """Push every row not done before; 0 when all are issued, 1 if some were rejected."""
    out_path = out_path or csv_path.with_name(csv_path.name + ".results.csv")
    total = check_rows(csv_path)
    done = previous_results(out_path)
    pending = (row for row in read_rows(csv_path) if row["reference"] not in done)
    await ensure_topics(pusher.bootstrap, pusher.topics.all, pusher.partitions)
    replies = await _reply_reader(pusher)
    try:
        with ResultsFile(out_path, total, done, show_progress, "pushing") as results:
            waiting = await _send(pusher, pending, achievement_id, batch_size, results)
            await _collect(replies, waiting, results, timeout)
    finally:
        await replies.stop()
    return results.summary()


async def _reply_reader(pusher: Pusher) -> AIOKafkaConsumer:
    """A reader of the reply topic positioned at its end before anything is sent."""
    consumer = AIOKafkaConsumer(bootstrap_servers=pusher.bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=100)
    await consumer.start()
    partitions = await partitions_of(consumer, pusher.topics.outcomes)
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)  # resolve now: later replies must not be skipped
    return consumer


async def _send(pusher: Pusher, rows: Iterable[dict[str, str]], achievement_id: str, batch_size: int,
                results: ResultsFile) -> dict[str, str]:
    """Publish a command per row; the references still awaited, by command id."""
    producer = new_producer(pusher.bootstrap)
    await producer.start()
    waiting: dict[str, str] = {}
    try:
        for chunk in batches(rows, batch_size):
            sends, refused = [], []
            for row in chunk:
                try:
                    credential = msgspec.convert(to_item(row, achievement_id), CredentialRequest)
                except msgspec.ValidationError as error:
                    refused.append(result_row({"reference": row["reference"], "outcome": "rejected",
                                               "problem": {"detail": str(error)}}))
                    continue
                command = IssueCredential(command_id=str(uuid.uuid4()), issuer_id=pusher.issuer_id,
                                          credential=credential)
                waiting[command.command_id] = row["reference"]
                sends.append(await producer.send(pusher.topics.commands, sign_command(
                    command, pusher.private_key, pusher.kid), key=pusher.issuer_id.encode()))
            await asyncio.gather(*sends)
            results.add(refused)
    finally:
        await producer.stop()
    return waiting


async def _collect(replies: AIOKafkaConsumer, waiting: dict[str, str], results: ResultsFile,
                   timeout: float) -> None:
    last_progress = time.monotonic()
    while waiting:
        if time.monotonic() - last_progress > timeout:
            raise IssueError(f"no outcome arrived for {timeout:.0f}s; {len(waiting)} rows are still"
                             " unanswered (run again: rows issued meanwhile are answered as existing)")
        batches = await replies.getmany(timeout_ms=500)
        answered = []
        for record in (r for part in batches.values() for r in part):
            command_id = (record.key or b"").decode(errors="replace")
            if command_id in waiting:
                outcome = msgspec.json.decode(record.value)
                outcome.setdefault("reference", waiting[command_id])
                answered.append(result_row(outcome))
                del waiting[command_id]
        if answered:
            results.add(answered)
            last_progress = time.monotonic()


def _private_key(args: argparse.Namespace) -> Ed25519PrivateKey:
    encoded = Path(args.signing_key).read_text().strip() if args.signing_key else \
        os.environ.get("CREDLEDGER_SIGNING_KEY", "")
    if not encoded:
        raise IssueError("an issuer_held signing key is needed (--signing-key FILE or CREDLEDGER_SIGNING_KEY)")
    try:
        return signing_key_from_seed(base64.b64decode(encoded, validate=True))
    except ValueError:
        raise IssueError("the signing key must be a base64 Ed25519 seed (32 bytes)") from None


def pusher_for(args: argparse.Namespace, settings: Settings, api_key: str) -> Pusher:
    url = args.url or settings.url_of("issuance")
    issuer_id = call_json(f"{url.rstrip('/')}/v1/whoami", api_key)["tenant_id"]
    kid = args.key_id if "#" in args.key_id else verification_method(
        issuer_did(settings.public_base_url, issuer_id), args.key_id)
    return Pusher(issuer_id, kid, _private_key(args), args.bootstrap or settings.kafka_bootstrap_servers,
                  IntakeTopics.named(settings.kafka_topic_prefix), settings.kafka_partitions)


def push_command(args: argparse.Namespace) -> int:
    api_key = args.api_key or os.environ.get("CREDLEDGER_API_KEY", "")
    if not api_key:
        print("credledger push: an issuer API key is needed (--api-key or CREDLEDGER_API_KEY)", file=sys.stderr)
        return 2
    try:
        pusher = pusher_for(args, load_settings(), api_key)
        return asyncio.run(push_csv(pusher, Path(args.csv), args.achievement, Path(args.out) if args.out else None,
                                    args.batch_size, args.timeout, sys.stderr.isatty()))
    except (IssueError, OSError, KafkaError) as error:
        print(f"credledger push: {error}", file=sys.stderr)
        return 2
