"""A checkpointer that cannot extend the log stops, says why once, and the
relay process's /readyz and /metrics show it. The relay runs as a real
process; the out-of-order row is what a ledger written before the chain
was enforced (migration 0010) could hold, so the test writes it as the
owner with the chain trigger disabled."""

from __future__ import annotations

import asyncio
import json

import msgspec

from credledger.embedded import free_port
from shared.ledger.eventstore.chain import chain_hash, entry_bytes
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support import processes
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted
from tests.support.processes import http_get
from tests.support.waiting import eventually


async def insert_out_of_order(db, position: int) -> None:
    head = await db.fetchrow("SELECT position, hash FROM ledger.events ORDER BY position DESC LIMIT 1")
    payload, metadata = b'{"n":0,"text":"out of order"}', b'{"actor":"x","tenant":"y"}'
    digest = chain_hash(head["hash"], entry_bytes(position, "stray", 1, "test.Noted", payload, metadata))
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_extend_chain")
        await conn.execute(
            "INSERT INTO ledger.events (position, stream_id, version, event_type, payload, metadata, prev_hash, hash)"
            " VALUES ($1, 'stray', 1, 'test.Noted', $2, $3, $4, $5)", position, payload, metadata, head["hash"], digest)
        await conn.execute("ALTER TABLE ledger.events ENABLE TRIGGER events_extend_chain")


async def test_a_checkpointer_that_cannot_extend_the_log_halts_and_the_relay_reports_it(settings, db, tmp_path):
    settings = msgspec.structs.replace(settings, relay_port=free_port())
    relay_url = f"http://127.0.0.1:{settings.relay_port}"
    relay = processes.start(["-m", "credledger", "relay"], settings, tmp_path / "relay.log")
    try:
        await Ledger(db, TEST_CATALOG).append([NewEvent(f"s{i}", Noted(text=str(i))) for i in range(5)],
                                              TEST_METADATA)
        await eventually(lambda: db.fetchval("SELECT tree_size FROM ledger.checkpoints WHERE tree_size = 5"),
                         timeout=60)
        status, body, _ = await asyncio.to_thread(http_get, f"{relay_url}/readyz")
        assert status == 200 and json.loads(body)["checks"] == {"checkpointer": True}

        await insert_out_of_order(db, 999_999)

        async def halted():
            status, body, _ = await asyncio.to_thread(http_get, f"{relay_url}/readyz")
            return json.loads(body) if status == 503 else None

        readiness = await eventually(halted, timeout=60)
        assert readiness["checks"] == {"checkpointer": False}
        assert "cannot take position 999999" in readiness["reasons"]["checkpointer"]
        _, metrics, _ = await asyncio.to_thread(http_get, f"{relay_url}/metrics")
        assert 'credledger_checkpointer_halted{reason="log_cannot_extend"} 1.0' in metrics.decode()
        assert (await asyncio.to_thread(http_get, f"{relay_url}/healthz"))[0] == 200
        # Several poll intervals later it has still said so exactly once.
        await asyncio.sleep(2)
        assert (tmp_path / "relay.log").read_text().count("checkpointer halted") == 1
        assert await db.fetchval("SELECT max(tree_size) FROM ledger.checkpoints") == 5
    finally:
        processes.stop(relay)
