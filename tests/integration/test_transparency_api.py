"""Relay, checkpointer and the verification service's public audit API,
end to end: events appended to Postgres reach the service through the real
broker, and the proofs it serves verify with RFC 9162 and C2SP verifiers."""

from __future__ import annotations

import asyncio
import base64
import contextlib

import pytest

from services.verification.app import create_app as verification_app
from shared.ledger.delivery.relay import Relay
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.ledger.transparency.checkpoints import Checkpointer, LogSigner
from shared.ledger.transparency.merkle import verify_consistency, verify_inclusion
from shared.ledger.transparency.signed_note import TlogProof, verify_checkpoint
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted
from tests.support.http import serving
from tests.support.waiting import eventually  # noqa: F401 - re-exported for tests


@contextlib.asynccontextmanager
async def relay_and_checkpointer(settings):
    stop = asyncio.Event()
    relay = Relay(settings.database_url, settings.kafka_bootstrap_servers, settings.topic("ledger"),
                  partitions=settings.kafka_partitions, poll_interval=0.2)
    checkpointer = Checkpointer(settings.database_url, LogSigner(settings.log_origin, settings.log_signing_key),
                                every_events=100, every_seconds=0.3, poll_interval=0.1)
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(checkpointer.run(stop))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def b64(s: str) -> bytes:
    return base64.b64decode(s)


async def test_checkpoints_and_proofs_verify_independently(settings, db):
    ledger = Ledger(db, TEST_CATALOG)
    async with relay_and_checkpointer(settings), serving(verification_app, settings) as client:
        await ledger.append([NewEvent(f"s{i % 5}", Noted(text=str(i))) for i in range(120)], TEST_METADATA)

        async def checkpoint_of(size):
            response = await client.get("/v1/audit/checkpoint")
            if response.status != 200:
                return None
            note = await response.text()
            return note if f"\n{size}\n" in note else None

        vkeys = (await (await client.get("/v1/audit/log-keys")).json())["vkeys"]
        first_note = await eventually(lambda: checkpoint_of(120))
        first = verify_checkpoint(first_note, vkeys[0])
        assert (first.origin, first.size) == (settings.log_origin, 120)

        await ledger.append([NewEvent("late", Noted(text=str(i))) for i in range(30)], TEST_METADATA)
        second = verify_checkpoint(await eventually(lambda: checkpoint_of(150)), vkeys[0])

        async def proofs_ready():
            response = await client.get("/v1/audit/proofs/inclusion", params={"position": "77", "tree_size": "150"})
            return response if response.status == 200 else None

        inclusion = await (await eventually(proofs_ready)).json()
        entry = await (await client.get("/v1/audit/entries/77")).json()
        assert inclusion["leaf_hash"] == entry["leaf_hash"]
        assert verify_inclusion(76, 150, b64(entry["leaf_hash"]), [b64(h) for h in inclusion["proof"]],
                                second.root_hash)

        consistency = await (await client.get(
            "/v1/audit/proofs/consistency", params={"first": "120", "second": "150"})).json()
        assert verify_consistency(120, 150, first.root_hash, second.root_hash,
                                  [b64(h) for h in consistency["proof"]])

        bundle = TlogProof.parse(await (await client.get("/v1/audit/proofs/tlog/77")).text())
        assert bundle.verify(b64(entry["leaf_hash"]), settings.log_origin, vkeys[0]).size == 150

        # Bad input: clear problems, nothing served from beyond the tree.
        assert (await client.get("/v1/audit/proofs/inclusion", params={"position": "x"})).status == 400
        assert (await client.get("/v1/audit/proofs/inclusion",
                                 params={"position": "1", "tree_size": "9999"})).status == 404
        assert (await client.get("/v1/audit/entries/100000")).status == 404
        metrics = await (await client.get("/metrics")).text()
        assert 'projection_position{projection="verification.log_tree"} 150.0' in metrics


@pytest.mark.parametrize("path", ["/v1/audit/checkpoint", "/v1/audit/proofs/tlog/1"])
async def test_no_checkpoint_yet_is_404(settings, path):
    async with serving(verification_app, settings) as client:
        response = await client.get(path)
        assert response.status == 404
        assert response.content_type == "application/problem+json"
