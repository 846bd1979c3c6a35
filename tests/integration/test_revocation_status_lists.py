"""Published status lists against the ledger: after a random mix of
revocations, suspensions and reinstatements, every published list decodes
to exactly the indexes the ledger says are set (rebuilt here independently
from the ledger's events), is signed by the issuer's key, is served with a
strong ETag, and shows a change within a second."""

from __future__ import annotations

import asyncio
import random
import time

from shared.credential_format import status_list_url, verification_method
from shared.crypto import eddsa_jcs
from shared.events import CATALOG
from shared.events.credentials import CredentialIssued
from shared.ledger.eventstore.store import Ledger
from shared.statuslist import Bitstring
from tests.support import independent_rdfc
from tests.support.credentials import eventually, issue_credentials, projected
from tests.support.http import bearer
from tests.support.revocation import revocation_service
from tests.support.world import World

# An independent reading of the ledger: which bit each event sets or clears.
SETS = {"revocation.CredentialRevoked": ("revocation", True), "revocation.CredentialSuspended": ("suspension", True),
        "revocation.CredentialReinstated": ("suspension", False)}


async def expected_bits(db) -> dict[str, set[int]]:
    """{list_id: set indexes} from the ledger alone (revocation clears suspension)."""
    entries: dict[str, dict[str, tuple[str, int]]] = {}
    bits: dict[str, set[int]] = {}
    for recorded in await Ledger(db, CATALOG).read_from(0, 1_000_000):
        event = CATALOG.decode(recorded)
        if isinstance(event, CredentialIssued):
            entries[event.credential_id] = {e.purpose: (e.list_id, e.index) for e in event.status}
            for list_id, _ in entries[event.credential_id].values():
                bits.setdefault(list_id, set())
        elif recorded.event_type in SETS:
            purpose, value = SETS[recorded.event_type]
            mine = entries[event.credential_id]
            (bits[mine[purpose][0]].add if value else bits[mine[purpose][0]].discard)(mine[purpose][1])
            if recorded.event_type == "revocation.CredentialRevoked":
                bits[mine["suspension"][0]].discard(mine["suspension"][1])
    return bits


async def published(client, list_id: str) -> dict | None:
    response = await client.get(f"/status-lists/{list_id}")
    return await response.json(content_type=None) if response.status == 200 else None


def decoded(document: dict) -> set[int]:
    return set(Bitstring.decode(document["credentialSubject"]["encodedList"]).set_indexes())


async def random_changes(client, rng: random.Random, credentials, keys: dict[str, str], count: int) -> None:
    for _ in range(count):
        credential = rng.choice(credentials)
        verb = rng.choice(["revoke", "suspend", "suspend", "reinstate", "reinstate"])
        body = {"reason_code": "other", "reason": f"random {verb}"}
        if rng.random() < 0.2:
            response = await client.post("/v1/revocations/batch", headers=bearer(keys[credential.issuer_id]),
                                         json={"items": [{"credential_id": credential.credential_id,
                                                          "action": verb, **body}]})
        else:
            response = await client.post(f"/v1/credentials/{credential.credential_id}/{verb}", json=body,
                                         headers=bearer(keys[credential.issuer_id]))
        assert response.status in (200, 409), await response.text()


async def test_published_lists_are_exactly_the_ledger(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuers = [await world.issuer("uni-1"), await world.issuer("uni-2")]
    credentials = []
    for issuer in issuers:
        credentials += await issue_credentials(db, settings, issuer, await world.achievement(issuer), 40)
    keys = {i.issuer_id: i.api_key for i in issuers}
    public_keys = {i.issuer_id: eddsa_jcs.raw_public_key(i.private_key) for i in issuers}
    rng = random.Random(20260601)
    async with revocation_service(settings) as client:
        await random_changes(client, rng, credentials, keys, 150)
        expected = await expected_bits(db)
        assert len(expected) == 4 and any(expected.values())

        async def all_lists_match():
            documents = {list_id: await published(client, list_id) for list_id in expected}
            if all(d is not None and decoded(d) == expected[d_id] for d_id, d in documents.items()):
                return documents
            return None

        documents = await eventually(all_lists_match, timeout=15)
        for list_id, document in documents.items():
            issuer_id = list_id.split(".")[0]
            issuer = next(i for i in issuers if i.issuer_id == issuer_id)
            url = status_list_url(settings.public_base_url, list_id)
            assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
            assert (document["id"], document["issuer"]) == (url, issuer.did)
            subject = document["credentialSubject"]
            assert subject["id"] == f"{url}#list" and subject["type"] == "BitstringStatusList"
            assert subject["statusPurpose"] == list_id.split(".")[1]
            assert subject["ttl"] == 1000
            assert len(Bitstring.decode(subject["encodedList"])) == 131_072
            assert [p["verificationMethod"] for p in document["proof"]] == [
                verification_method(issuer.did, issuer.key_id)] * 2
            assert [p["cryptosuite"] for p in document["proof"]] == ["eddsa-rdfc-2022", "eddsa-jcs-2022"]
            assert independent_rdfc.verify_proof_set(document, public_keys[issuer_id]) == {
                "eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}
            tampered = {**document, "credentialSubject": {**subject, "encodedList": Bitstring(131_072).encode()}}
            assert not any(independent_rdfc.verify_proof_set(tampered, public_keys[issuer_id]).values())


async def test_a_change_shows_within_a_second_with_etag_caching(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    credentials = await issue_credentials(db, settings, issuer, await world.achievement(issuer), 6)
    list_id = credentials[0].entry("revocation").list_id
    async with revocation_service(settings) as client:
        await eventually(lambda: published(client, list_id))
        first = await client.get(f"/status-lists/{list_id}")
        assert first.status == 200 and first.headers["Content-Type"] == "application/vc"
        etag = first.headers["ETag"]
        # Clients still asking for the media type VC 2.0 no longer registers get the same list.
        older = await client.get(f"/status-lists/{list_id}", headers={"Accept": "application/vc+ld+json"})
        assert older.status == 200 and await older.read() == await first.read()
        page = await client.get(f"/status-lists/{list_id}", headers={"Accept": "text/html,*/*;q=0.8"})
        assert page.status == 200 and page.content_type == "text/html"
        assert f"Status list {list_id}" in await page.text()
        assert etag.startswith('"') and not etag.startswith("W/")
        assert first.headers["Cache-Control"] == "public, max-age=1"
        unchanged = await client.get(f"/status-lists/{list_id}", headers={"If-None-Match": etag})
        assert unchanged.status == 304 and unchanged.headers["ETag"] == etag

        # The first change also waits for the read model to join its consumer group.
        for n, credential in enumerate(credentials):
            index = credential.entry("revocation").index
            response = await client.post(f"/v1/credentials/{credential.credential_id}/revoke",
                                         json={"reason_code": "fraud", "reason": "forged transcript"},
                                         headers=bearer(issuer.api_key))
            assert response.status == 200
            started = time.monotonic()

            async def bit_set(index: int = index):
                document = await published(client, list_id)
                return True if document and index in decoded(document) else None

            await eventually(bit_set, timeout=15 if n == 0 else 1.0, interval=0.01)
            if n:
                assert time.monotonic() - started < 1.0
        changed = await client.get(f"/status-lists/{list_id}", headers={"If-None-Match": etag})
        assert changed.status == 200 and changed.headers["ETag"] != etag

        entry = await client.get(f"/status-lists/{list_id}/entries/{credentials[0].entry('revocation').index}")
        assert (await entry.json())["set"] is True
        served = await (await client.get(f"/status-lists/{list_id}")).read()
    # Every replica, and a restarted one at once, serves these stored bytes.
    stored = await db.fetchrow("SELECT document, etag FROM revocation.list_publications WHERE list_id = $1", list_id)
    assert (bytes(stored["document"]), stored["etag"]) == (served, changed.headers["ETag"])


async def test_status_list_bad_input(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    [credential] = await issue_credentials(db, settings, issuer, await world.achievement(issuer))
    entry = credential.entry("suspension")
    async with revocation_service(settings) as client:
        await eventually(lambda: published(client, entry.list_id))
        cases = [
            (f"/status-lists/{issuer.issuer_id}.revocation.nope", 404, "no status list"),
            (f"/status-lists/{entry.list_id}/entries/131072", 404, "outside"),
            (f"/status-lists/{entry.list_id}/entries/-1", 400, "an integer from 0"),
            (f"/status-lists/{entry.list_id}/entries/x", 400, "an integer from 0"),
            ("/status-lists/uni-1.revocation.nope/entries/1", 404, "no status list"),
        ]
        for path, status, needle in cases:
            response = await client.get(path)
            assert response.status == status, path
            assert needle in (await response.json(content_type=None))["detail"]
        ok = await (await client.get(f"/status-lists/{entry.list_id}/entries/{entry.index}")).json()
        assert ok["set"] is False and ok["purpose"] == "suspension" and ok["index"] == entry.index


async def test_commands_never_wait_for_rows_the_projection_holds(settings, db):
    """The projection locks read-model rows and then, to cascade, waits for
    the ledger's append lock; a command holds that lock and then writes
    through. A command must skip such rows, or the two would deadlock."""
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    [held, free] = await issue_credentials(db, settings, issuer, await world.achievement(issuer), 2)
    async with revocation_service(settings) as client:
        await projected(db, "revocation.credentials", free.position)
        async with db.acquire() as projection_like:
            transaction = projection_like.transaction()
            await transaction.start()
            await projection_like.execute(
                "UPDATE revocation.credentials SET status = status WHERE credential_id = $1", held.credential_id)
            for credential in (held, free):
                response = await asyncio.wait_for(client.post(
                    f"/v1/credentials/{credential.credential_id}/revoke", headers=bearer(issuer.api_key),
                    json={"reason_code": "fraud", "reason": "forged"}), timeout=5)
                assert response.status == 200
            versions = dict(await db.fetch("SELECT credential_id, status_version FROM revocation.credentials"))
            assert versions == {held.credential_id: 1, free.credential_id: 2}  # held skipped, free written through
            await asyncio.wait_for(projection_like.execute("LOCK TABLE ledger.events IN EXCLUSIVE MODE"), timeout=5)
            await transaction.rollback()
        # The projection applies the skipped change itself.
        list_id = held.entry("revocation").list_id
        wanted = {held.entry("revocation").index, free.entry("revocation").index}

        async def both_bits():
            document = await published(client, list_id)
            return True if document and decoded(document) == wanted else None

        await eventually(both_bits, timeout=15)
