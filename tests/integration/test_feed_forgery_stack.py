"""End to end with real processes (the relay and the four services, as
`credledger up` starts them): a forged record produced straight into the
ledger topic, at the next position and well-formed but with a wrong hash,
changes no verdict, is counted, and makes every consumer report degraded
until the ledger has given it that position; the next real credential,
which lands at the forged position, is then found."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import ExitStack

import msgspec
import pytest
from aiokafka import AIOKafkaProducer

from credledger.embedded import free_port
from credledger.stack import start_children
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.ledger.eventstore.events import RECORDED_EVENT_ENCODER, Metadata, RecordedEvent, encode_metadata
from shared.settings import SERVICE_NAMES
from tests.support.credentials_for_verification import build_scene, eventually, issue
from tests.support.processes import http_get

pytestmark = pytest.mark.slow
# The services that project the ledger (the employer portal keeps no read
# model of it: its readiness is its database and broker).
LEDGER_READERS = tuple(s for s in SERVICE_NAMES if s != "employer")


def with_free_ports(settings):
    ports = {f"{name}_port": free_port() for name in SERVICE_NAMES}
    return msgspec.structs.replace(settings, relay_port=free_port(), **ports)


async def get(url: str) -> tuple[int, bytes, str]:
    return await asyncio.to_thread(http_get, url)


async def forge_revocation(settings, ledger, credential_id: str) -> int:
    """Produce 'revoked (fraud)' for the credential at the next position,
    linked to the real head, with a made-up hash; return its position."""
    head = (await ledger.read_from(await ledger.head_position() - 1))[0]
    event = cev.CredentialRevoked(credential_id=credential_id, reason_code="fraud", reason="forged")
    forged = RecordedEvent(
        position=head.position + 1, stream_id=cev.credential_stream(credential_id), version=2,
        event_type=event.event_type, payload=msgspec.Raw(CATALOG.encode(event)),
        metadata=msgspec.Raw(encode_metadata(Metadata(actor="attacker", tenant="attacker").stamped())),
        prev_hash=head.hash, hash=os.urandom(32))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic("ledger"), RECORDED_EVENT_ENCODER.encode(forged),
                                     key=forged.stream_id.encode())
    finally:
        await producer.stop()
    return forged.position


async def verdict(url: str, credential_id: str) -> str:
    status, body, _ = await get(f"{url}/v1/credentials/{credential_id}/verification")
    assert status == 200, body
    return json.loads(body)["verdict"]


async def rejected_by_verification(url: str) -> bool | None:
    _, metrics, _ = await get(f"{url}/metrics")
    line = 'credledger_feed_records_rejected_total{projection="verification.read_model",reason="hash"} 1.0'
    return True if line in metrics.decode() else None


async def degraded(url: str) -> dict | None:
    status, body, _ = await get(f"{url}/readyz")
    return json.loads(body) if status == 503 else None


async def test_a_forged_broker_record_changes_no_verdict_and_is_reported(settings, db, tmp_path):
    settings = with_free_ports(settings)
    scene = await build_scene(db, settings)
    genuine = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    verification = settings.url_of("verification")
    with ExitStack() as stack:
        await asyncio.to_thread(start_children, settings, tmp_path, stack)
        assert await verdict(verification, genuine.credential_id) == "valid"

        forged_at = await forge_revocation(settings, scene.ledger, genuine.credential_id)
        await eventually(lambda: rejected_by_verification(verification), timeout=60)
        for service in LEDGER_READERS:
            readiness = await eventually(lambda service=service: degraded(settings.url_of(service)), timeout=60)
            assert not readiness["ready"] and readiness["reasons"], service
            assert all(f"position {forged_at}" in reason for reason in readiness["reasons"].values())
        assert await verdict(verification, genuine.credential_id) == "valid"
        status, page, _ = await get(f"{verification}/verify/{genuine.credential_id}")
        assert status == 200 and "Valid:" in page.decode() and "Not valid" not in page.decode()

        following = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="grace@example.org")
        assert following.positions == [forged_at]

        async def all_ready():
            statuses = [(await get(f"{settings.url_of(s)}/readyz"))[0] for s in SERVICE_NAMES]
            return True if statuses == [200] * len(SERVICE_NAMES) else None

        await eventually(all_ready, timeout=60)
        assert await verdict(verification, following.credential_id) == "valid"
        assert await verdict(verification, genuine.credential_id) == "valid"
        _, metrics, _ = await get(f"{verification}/metrics")
        assert 'credledger_feed_degraded{projection="verification.read_model"} 0.0' in metrics.decode()
