"""The cascade rules as pure functions over the registry state."""

from __future__ import annotations

import msgspec

from services.revocation.cascade import component_revoked, due_at_issuance
from shared.crypto.multibase import public_key_to_multibase
from shared.events import registry as ev
from shared.events.credentials import Cause, CredentialIssued, CredentialRevoked
from shared.registry_state import RegistryState

T0 = "2026-01-01T00:00:00Z"
COMPROMISED_AT = "2026-03-01T00:00:00Z"


def state() -> RegistryState:
    registry = RegistryState()
    registry.apply_all([
        ev.AgencyCreated(agency_id="root", name="Root", jurisdiction="IE", scope=ev.AccreditationScope()),
        ev.IssuerRegistered(issuer_id="uni", registered_by="root", legal_name="U", country="IE",
                            did="did:web:x:issuers:uni"),
        ev.IssuerKeyAdded(issuer_id="uni", key_id="k1", custody="hosted", valid_from=T0,
                          public_key_multibase=public_key_to_multibase(bytes([1]) * 32)),
        ev.AccreditationGranted(accreditation_id="acc", accreditor_id="root", subject_kind="issuer",
                                subject_id="uni", scope=ev.AccreditationScope(), valid_from=T0),
        ev.PathwayProposed(pathway_id="strict", issuer_id="uni", title="S", award_achievement_id="a",
                           rule=ev.PathwayRule(on_component_revoked="revoke")),
        ev.PathwayProposed(pathway_id="lenient", issuer_id="uni", title="L", award_achievement_id="a",
                           rule=ev.PathwayRule(on_component_revoked="flag")),
    ])
    return registry


def issued(issued_at: str, key_id: str = "k1") -> CredentialIssued:
    return CredentialIssued(
        credential_id="urn:uuid:c", issuer_id="uni", achievement_id="a", key_id=key_id,
        learner_hash="sha256$" + "0" * 64, issued_at=issued_at, valid_from=issued_at,
        document_hash="0" * 64, document=msgspec.Raw(b"{}"),
    )


def test_a_revoked_component_revokes_or_flags_each_award_as_its_pathway_says() -> None:
    revoked = CredentialRevoked(credential_id="urn:uuid:part", reason_code="fraud", reason="copied")
    awards = [{"credential_id": "urn:uuid:a1", "pathway_id": "strict"},
              {"credential_id": "urn:uuid:a2", "pathway_id": "lenient"},
              {"credential_id": "urn:uuid:a3", "pathway_id": "unknown"}]
    changes = component_revoked(revoked, awards, state())
    assert [(c.credential_id, c.action) for c in changes] == [
        ("urn:uuid:a1", "revoke"), ("urn:uuid:a2", "flag"), ("urn:uuid:a3", "flag")]
    assert all(c.cause == Cause(kind="component_revoked", ref="urn:uuid:part") for c in changes)
    assert all(c.reason_code == "component_revoked" for c in changes)


def test_a_credential_signed_after_its_key_was_compromised_is_revoked_on_arrival() -> None:
    registry = state()
    registry.apply(ev.IssuerKeyCompromised(issuer_id="uni", key_id="k1", compromised_at=COMPROMISED_AT,
                                           reason="leaked"))
    assert due_at_issuance(issued("2026-02-28T23:59:59Z"), registry) == []
    (change,) = due_at_issuance(issued(COMPROMISED_AT), registry)
    assert (change.action, change.reason_code) == ("revoke", "key_compromise")
    assert change.cause == Cause(kind="key_compromised", ref="k1")


def test_a_withdrawal_revokes_only_what_its_policy_names() -> None:
    registry = state()
    registry.apply(ev.AccreditationWithdrawn(accreditation_id="acc", reason="audit failed", at=COMPROMISED_AT,
                                             credentials_policy="revoke_issued_after",
                                             revoke_issued_after=COMPROMISED_AT))
    assert due_at_issuance(issued(COMPROMISED_AT), registry) == []  # strictly after
    (change,) = due_at_issuance(issued("2026-03-02T00:00:00Z"), registry)
    assert change.cause == Cause(kind="accreditation_withdrawn", ref="acc")


def test_a_withdrawal_that_keeps_credentials_revokes_nothing() -> None:
    registry = state()
    registry.apply(ev.AccreditationWithdrawn(accreditation_id="acc", reason="merged", at=COMPROMISED_AT))
    assert due_at_issuance(issued("2026-04-01T00:00:00Z"), registry) == []
