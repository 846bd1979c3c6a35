"""A status change is in the very next fetch of its list: also for a
credential the revocation service's projection has not reached yet (just
issued, or right after a start), and /readyz waits for current lists."""

from __future__ import annotations

import msgspec
from prometheus_client import CollectorRegistry

from services.revocation.metrics import RevocationMetrics
from services.revocation.projection import CredentialsProjection
from services.revocation.status_changes import StatusChange, StatusChanger
from services.revocation.status_lists import StatusListPublisher
from shared.events import CATALOG
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import Ledger
from shared.registry_state import RegistryProjection, RegistryState
from shared.statuslist import Bitstring
from tests.support.credentials import issue_credentials
from tests.support.http import bearer
from tests.support.revocation import revocation_service
from tests.support.world import World


def bits_of(document: bytes | dict) -> set[int]:
    decoded = msgspec.json.decode(document) if isinstance(document, bytes) else document
    return set(Bitstring.decode(decoded["credentialSubject"]["encodedList"]).set_indexes())


async def test_a_revocation_before_the_projection_is_published_at_the_next_fetch(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    [credential, other] = await issue_credentials(db, settings, issuer, await world.achievement(issuer), 2)
    ledger = Ledger(db, CATALOG)
    registry = RegistryProjection(RegistryState(), "test.registry")
    await registry.apply(await ledger.read_from(0, 100_000))
    assert await db.fetchval("SELECT count(*) FROM revocation.credentials") == 0  # nothing projected yet

    async with db.acquire() as conn, conn.transaction():
        [outcome] = await StatusChanger(ledger).apply(
            conn, [StatusChange(credential.credential_id, "revoke", "forged", "fraud")],
            Metadata(actor="test", tenant="uni-1"))
    assert outcome.applied
    assert await db.fetchval("SELECT status FROM revocation.credentials WHERE credential_id = $1",
                             credential.credential_id) == "revoked"

    entry = credential.entry("revocation")
    metrics = RevocationMetrics(CollectorRegistry())
    publisher = StatusListPublisher(db, registry, settings.master_key, settings.public_base_url, metrics)
    await publisher.current(entry.list_id)
    document = await db.fetchval("SELECT document FROM revocation.list_publications WHERE list_id = $1",
                                 entry.list_id)
    assert bits_of(document) == {entry.index}
    assert await db.fetchval("SELECT count(*) FROM revocation.list_changes WHERE list_id = $1", entry.list_id) == 0

    # The projection then reaches the same events: nothing changes, nothing is applied twice.
    projection = CredentialsProjection(db, registry, StatusChanger(ledger), metrics, lambda: None)
    await projection.apply(await ledger.read_from(0, 100_000))
    rows = await db.fetch("SELECT credential_id, status FROM revocation.credentials ORDER BY credential_id")
    assert {r["credential_id"]: r["status"] for r in rows} == {
        credential.credential_id: "revoked", other.credential_id: "active"}
    assert await ledger.head_position() == outcome.position


async def test_readiness_waits_for_a_pass_after_the_read_models(settings, db):
    metrics = RevocationMetrics(CollectorRegistry())
    caught_up = [False]
    publisher = StatusListPublisher(db, RegistryProjection(RegistryState(), "test.registry"), settings.master_key,
                                    settings.public_base_url, metrics, sources_caught_up=lambda: caught_up[0])
    await publisher.publish_due()
    assert not publisher.ready  # that pass may have missed changes the projection had not applied yet
    caught_up[0] = True
    await publisher.publish_due()
    assert publisher.ready


async def test_fetched_right_after_the_answer_the_list_has_the_bit(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    achievement = await world.achievement(issuer)
    async with revocation_service(settings) as client:
        assert (await (await client.get("/readyz")).json())["checks"]["status_lists_current"]
        for n in range(5):
            # Appended to the ledger just now: the service's projection has most likely not seen it.
            [credential] = await issue_credentials(db, settings, issuer, achievement, 1)
            response = await client.post(f"/v1/credentials/{credential.credential_id}/revoke",
                                         json={"reason_code": "fraud", "reason": "test"},
                                         headers=bearer(issuer.api_key))
            assert response.status == 200, await response.text()
            entry = credential.entry("revocation")
            listed = await client.get(f"/status-lists/{entry.list_id}")
            assert listed.status == 200
            assert entry.index in bits_of(await listed.read()), n


async def test_a_change_is_published_before_it_is_acknowledged(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    credentials = await issue_credentials(db, settings, issuer, await world.achievement(issuer), 3)
    entries = [c.entry("revocation") for c in credentials]
    published = "SELECT document FROM revocation.list_publications WHERE list_id = $1"
    pending = "SELECT count(*) FROM revocation.list_changes WHERE list_id = $1"
    async with revocation_service(settings) as client:
        response = await client.post(f"/v1/credentials/{credentials[0].credential_id}/revoke",
                                     json={"reason_code": "fraud", "reason": "test"}, headers=bearer(issuer.api_key))
        assert response.status == 200, await response.text()
        # No fetch yet: the answer came after the list was signed and stored.
        assert await db.fetchval(pending, entries[0].list_id) == 0
        assert entries[0].index in bits_of(await db.fetchval(published, entries[0].list_id))
        items = [{"credential_id": c.credential_id, "action": "revoke", "reason_code": "fraud", "reason": "test"}
                 for c in credentials[1:]]
        response = await client.post("/v1/revocations/batch", json={"items": items}, headers=bearer(issuer.api_key))
        assert response.status == 200, await response.text()
        assert {e.index for e in entries} <= bits_of(await db.fetchval(published, entries[0].list_id))
