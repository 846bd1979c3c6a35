"""The cascade rules end to end: trigger events reach the revocation
service's read model through the relay and the broker, and the cascades
append their own ledger events naming the cause, exactly once."""

from __future__ import annotations

import os

import msgspec
from prometheus_client import CollectorRegistry

from services.registry.issuers import store_hosted_key
from services.revocation.metrics import RevocationMetrics
from services.revocation.projection import CredentialsProjection
from services.revocation.status_changes import StatusChanger
from shared.credential_format import verification_method
from shared.crypto import eddsa_jcs
from shared.crypto.multibase import public_key_to_multibase
from shared.events import CATALOG
from shared.events import registry as reg
from shared.events.credentials import CredentialRevoked, credential_stream
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.registry_state import RegistryProjection, RegistryState
from shared.statuslist import Bitstring
from tests.support import independent_rdfc
from tests.support.credentials import eventually, issue_credentials, projected
from tests.support.http import bearer
from tests.support.revocation import revocation_service
from tests.support.world import ADMIN, EPOCH, World

PROJECTION = "revocation.credentials"
ISSUED = "issuance.CredentialIssued"
REVOKED = "revocation.CredentialRevoked"
FLAGGED = "revocation.CredentialFlaggedForReview"


async def stream(db, credential) -> list:
    return await Ledger(db, CATALOG).read_stream(credential_stream(credential.credential_id))


async def types_of(db, credential) -> list[str]:
    return [e.event_type for e in await stream(db, credential)]


async def until_types(db, credential, wanted: list[str]) -> list:
    async def reached():
        events = await stream(db, credential)
        return events if [e.event_type for e in events] == wanted else None

    return await eventually(reached, timeout=20)


def decode(recorded):
    return CATALOG.decode(recorded), msgspec.json.decode(bytes(recorded.metadata), type=Metadata)


async def approve_pathway(world, issuer, pathway_id, award_achievement, components, on_component_revoked):
    rule = reg.PathwayRule(required=components, on_component_revoked=on_component_revoked)
    await world.ledger.append([
        NewEvent(f"pathway:{pathway_id}", reg.PathwayProposed(
            pathway_id=pathway_id, issuer_id=issuer.issuer_id, title=pathway_id,
            award_achievement_id=award_achievement, rule=rule)),
        NewEvent(f"pathway:{pathway_id}", reg.PathwayApproved(pathway_id=pathway_id, agency_id="qqi", at=EPOCH)),
    ], ADMIN)


async def stacked_world(db, settings):
    """Components x, y; award R (pathway says revoke) and F (flag) of x+y;
    S (revoke) stacks R; U (revoke) stacks an unrelated z."""
    world = World(db, settings)
    await world.agency("qqi")
    issuer = await world.issuer("uni-1")
    c1, c2, award, top = [await world.achievement(issuer) for _ in range(4)]
    await approve_pathway(world, issuer, "p-revoke", award, [c1, c2], "revoke")
    await approve_pathway(world, issuer, "p-flag", award, [c1, c2], "flag")
    await approve_pathway(world, issuer, "p-top", top, [award], "revoke")

    async def one(achievement, **kwargs):
        [credential] = await issue_credentials(db, settings, issuer, achievement, **kwargs)
        return credential

    x, y, z = await one(c1), await one(c2), await one(c1)
    r = await one(award, pathway_id="p-revoke", components=[x.credential_id, y.credential_id])
    f = await one(award, pathway_id="p-flag", components=[x.credential_id, y.credential_id])
    s = await one(top, pathway_id="p-top", components=[r.credential_id])
    u = await one(award, pathway_id="p-revoke", components=[z.credential_id])
    return world, issuer, (x, y, z, r, f, s, u)


async def test_a_revoked_component_revokes_or_flags_its_awards(settings, db):
    world, issuer, (x, y, z, r, f, s, u) = await stacked_world(db, settings)
    async with revocation_service(settings) as client:
        response = await client.post(f"/v1/credentials/{x.credential_id}/revoke", headers=bearer(issuer.api_key),
                                     json={"reason_code": "misconduct", "reason": "exam misconduct"})
        trigger = (await response.json())["position"]
        revoked_r = (await until_types(db, r, [ISSUED, REVOKED]))[-1]
        revoked_s = (await until_types(db, s, [ISSUED, REVOKED]))[-1]
        flagged_f = (await until_types(db, f, [ISSUED, FLAGGED]))[-1]

        event, metadata = decode(revoked_r)
        assert (event.reason_code, event.cause.kind, event.cause.ref) == (
            "component_revoked", "component_revoked", x.credential_id)
        assert (metadata.actor, metadata.request_id) == ("revocation.cascade", f"ledger:{trigger}")
        event, metadata = decode(revoked_s)  # the cascade goes on up the stack
        assert (event.cause.ref, metadata.request_id) == (r.credential_id, f"ledger:{revoked_r.position}")
        event, _ = decode(flagged_f)
        assert (event.cause.kind, event.cause.ref) == ("component_revoked", x.credential_id)

        # The second component: F is flagged again for it; R, already revoked, is left alone.
        await client.post(f"/v1/credentials/{y.credential_id}/revoke", headers=bearer(issuer.api_key),
                          json={"reason_code": "misconduct", "reason": "exam misconduct"})
        second_flag = (await until_types(db, f, [ISSUED, FLAGGED, FLAGGED]))[-1]
        assert decode(second_flag)[0].cause.ref == y.credential_id
        await projected(db, PROJECTION, await Ledger(db, CATALOG).head_position())

        history = await (await client.get(f"/v1/credentials/{f.credential_id}/status-history",
                                          headers=bearer(issuer.api_key))).json()
        assert [(e["event"], e["status"]) for e in history["entries"]] == [
            ("issued", "active"), ("flagged_for_review", "flagged"), ("flagged_for_review", "flagged")]
        assert history["entries"][1]["cause"] == {"kind": "component_revoked", "ref": x.credential_id}
    assert await types_of(db, r) == [ISSUED, REVOKED]
    assert await types_of(db, s) == [ISSUED, REVOKED]
    assert await types_of(db, u) == [ISSUED] and await types_of(db, z) == [ISSUED]


async def test_key_compromise_revokes_what_the_key_signed_from_then_on(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    issuer, other = await world.issuer("uni-2"), await world.issuer("uni-3")
    achievement = await world.achievement(issuer)
    compromised_at = "2026-03-01T00:00:00Z"

    async def signed_at(who, when, achievement_id=achievement):
        [credential] = await issue_credentials(db, settings, who, achievement_id, issued_at=when)
        return credential

    long_before, just_before = await signed_at(issuer, "2026-01-01T00:00:00Z"), await signed_at(issuer, "2026-02-28T23:59:59Z")
    at, after = await signed_at(issuer, compromised_at), await signed_at(issuer, "2026-03-02T00:00:00Z")
    other_issuer = await signed_at(other, "2026-03-02T00:00:00Z", await world.achievement(other))
    list_ids = {e.list_id for e in at.status}
    async with revocation_service(settings) as client:
        async def signed_with(key_id):
            documents = [await (await client.get(f"/status-lists/{list_id}")).json(content_type=None)
                         for list_id in list_ids]
            methods = {proof.get("verificationMethod") for d in documents for proof in d.get("proof", [{}])}
            return documents if methods == {verification_method(issuer.did, key_id)} else None

        await eventually(lambda: signed_with("key-1"))
        # Rotation to a new hosted key, and key-1 reported compromised as of a past moment.
        seed = os.urandom(32)
        async with db.acquire() as conn:
            await store_hosted_key(conn, world.vault, issuer.issuer_id, "key-2", seed)
        new_key = eddsa_jcs.signing_key_from_seed(seed)
        await world.ledger.append([
            NewEvent("issuer:uni-2", reg.IssuerKeyAdded(
                issuer_id="uni-2", key_id="key-2", custody="hosted", valid_from="2026-03-01T00:00:00Z",
                public_key_multibase=public_key_to_multibase(eddsa_jcs.raw_public_key(new_key)))),
            NewEvent("issuer:uni-2", reg.IssuerKeyCompromised(
                issuer_id="uni-2", key_id="key-1", compromised_at=compromised_at, reason="HSM breach")),
        ], ADMIN)
        # Issued with the compromised key after the report reached the ledger.
        late = await signed_at(issuer, "2026-03-03T00:00:00Z")

        for credential in (at, after, late):
            event, metadata = decode((await until_types(db, credential, [ISSUED, REVOKED]))[-1])
            assert (event.reason_code, event.cause.kind, event.cause.ref) == ("key_compromise", "key_compromised", "key-1")
            assert metadata.actor == "revocation.cascade"

        # The lists are re-signed with key-2 and show the revocations.
        revoked = {c.entry("revocation").index for c in (at, after, late)}

        async def resigned():
            documents = await signed_with("key-2")
            revocation = next((d for d in documents or () if d["credentialSubject"]["statusPurpose"] == "revocation"), None)
            bits = revocation and set(Bitstring.decode(revocation["credentialSubject"]["encodedList"]).set_indexes())
            return documents if bits == revoked else None

        for document in await eventually(resigned):
            assert all(independent_rdfc.verify_proof_set(document, eddsa_jcs.raw_public_key(new_key)).values())
        await projected(db, PROJECTION, await Ledger(db, CATALOG).head_position())
    for untouched in (long_before, just_before, other_issuer):
        assert await types_of(db, untouched) == [ISSUED]


async def test_accreditation_withdrawal_follows_the_agencys_choice(settings, db):
    world = World(db, settings)
    await world.agency("qqi")
    strict, lenient = await world.issuer("uni-4"), await world.issuer("uni-5")
    cutoff = "2026-05-01T00:00:00Z"

    async def issued(who, when):
        [credential] = await issue_credentials(db, settings, who, await world.achievement(who), issued_at=when)
        return credential

    before, on_cutoff = await issued(strict, "2026-04-30T00:00:00Z"), await issued(strict, cutoff)
    after, later = await issued(strict, "2026-05-01T00:00:01Z"), await issued(strict, "2026-06-01T00:00:00Z")
    kept = await issued(lenient, "2026-06-01T00:00:00Z")
    async with revocation_service(settings):
        await world.ledger.append([
            NewEvent("accreditation:acc-uni-4", reg.AccreditationWithdrawn(
                accreditation_id="acc-uni-4", reason="fraudulent assessments", at="2026-07-01T00:00:00Z",
                credentials_policy="revoke_issued_after", revoke_issued_after=cutoff)),
            NewEvent("accreditation:acc-uni-5", reg.AccreditationWithdrawn(
                accreditation_id="acc-uni-5", reason="programme closed", at="2026-07-01T00:00:00Z",
                credentials_policy="keep")),
        ], ADMIN)
        for credential in (after, later):
            event, _ = decode((await until_types(db, credential, [ISSUED, REVOKED]))[-1])
            assert (event.reason_code, event.cause.kind, event.cause.ref) == (
                "accreditation_withdrawn", "accreditation_withdrawn", "acc-uni-4")
            assert "fraudulent assessments" in event.reason
        await projected(db, PROJECTION, await Ledger(db, CATALOG).head_position())
    for untouched in (before, on_cutoff, kept):
        assert await types_of(db, untouched) == [ISSUED]


async def test_replaying_the_ledger_never_cascades_twice(settings, db):
    """Rebuilding the read model from position 0 (or a re-delivered batch)
    re-runs every cascade rule, and finds nothing left to do."""
    world, issuer, (x, y, z, r, f, s, u) = await stacked_world(db, settings)
    ledger = Ledger(db, CATALOG)
    revoke_x = CredentialRevoked(credential_id=x.credential_id, reason_code="fraud", reason="forged")
    await ledger.append([NewEvent(credential_stream(x.credential_id), revoke_x)], Metadata(actor="test", tenant="uni-1"))

    async def project_everything() -> None:
        events = await ledger.read_from(0, 100_000)
        registry = RegistryProjection(RegistryState(), "test.registry")
        await registry.apply(events)
        projection = CredentialsProjection(db, registry, StatusChanger(ledger),
                                           RevocationMetrics(CollectorRegistry()), lambda: None)
        await projection.apply(events)

    # Cascades append events that cascade further: project until nothing new appears.
    head = 0
    while head != (head := await ledger.head_position()):
        await project_everything()
    assert await types_of(db, s) == [ISSUED, REVOKED] and await types_of(db, f) == [ISSUED, FLAGGED]
    statuses = await db.fetch("SELECT credential_id, status FROM revocation.credentials ORDER BY 1")
    assert [r["status"] for r in statuses].count("revoked") == 3  # x, R, S

    await project_everything()  # a re-delivered batch
    await db.execute("DELETE FROM revocation.credentials")
    await db.execute("UPDATE ledger.projection_progress SET position = 0 WHERE projection = $1", PROJECTION)
    await project_everything()  # a rebuilt read model re-runs every cascade rule
    assert await ledger.head_position() == head
    assert await db.fetch("SELECT credential_id, status FROM revocation.credentials ORDER BY 1") == statuses
