"""The Kafka intake as a real process, and a test-side producer and reply reader."""

from __future__ import annotations

import base64
import contextlib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credledger.embedded import free_port
from services.intake.commands import Command, IntakeTopics
from services.intake.signature import sign_command
from shared.bus import partitions_of
from shared.settings import Settings
from tests.support import processes
from tests.support.waiting import eventually


def intake_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, intake_port=free_port())


def start_intake(settings: Settings, log_dir: Path):
    return processes.start(["-m", "credledger", "intake"], settings, log_dir / "intake.log")


async def wait_ready(settings: Settings, process) -> None:
    async def ready() -> bool | None:
        assert process.poll() is None, "the intake exited"
        try:
            with urllib.request.urlopen(f"http://{settings.host}:{settings.intake_port}/readyz", timeout=1):
                return True
        except OSError:
            return None

    await eventually(ready, timeout=60, interval=0.2)


@contextlib.contextmanager
def running_intake(settings: Settings, log_dir: Path) -> Iterator[object]:
    process = start_intake(settings, log_dir)
    try:
        yield process
    finally:
        processes.stop(process)


def seed_text(private_key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
    return base64.b64encode(raw).decode()


async def publish(settings: Settings, records: list[tuple[str, bytes]]) -> None:
    """(key, value) records onto the commands topic, acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        topic = IntakeTopics.named(settings.kafka_topic_prefix).commands
        sends = [await producer.send(topic, value, key=key.encode()) for key, value in records]
        for send in sends:
            await send
    finally:
        await producer.stop()


def signed(command: Command, private_key: Ed25519PrivateKey, kid: str) -> tuple[str, bytes]:
    return command.issuer_id, sign_command(command, private_key, kid)


async def read_topic(settings: Settings, topic: str, until: int,
                     timeout: float = 60) -> list[tuple[bytes | None, dict]]:
    """Every record of `topic` from its start, once there are at least `until`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: list[tuple[bytes | None, dict]] = []
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)

        async def enough() -> bool | None:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                found.extend((r.key, msgspec.json.decode(r.value)) for r in part)
            return True if len(found) >= until else None

        await eventually(enough, timeout=timeout, interval=0)
    finally:
        await consumer.stop()
    return found
