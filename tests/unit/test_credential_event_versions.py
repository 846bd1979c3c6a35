"""Learner-bearing events are at version 2: version 1 payloads (older
ledgers, a salt derived from the identity, StackClaimed naming the learner)
still decode, through their upcasters; version 2 carries no learner key and
StackClaimed names no learner."""

from __future__ import annotations

import msgspec

from shared.events import CATALOG
from shared.events.credentials import CredentialIssued, StackClaimed
from shared.ledger.eventstore.events import RecordedEvent

V1_ISSUED = {
    "credential_id": "urn:uuid:00000000-0000-4000-8000-000000000001", "issuer_id": "uni-1",
    "achievement_id": "ach-1", "key_id": "key-1", "learner_hash": "sha256$" + "ab" * 32,
    "issued_at": "2025-06-01T00:00:00Z", "valid_from": "2025-06-01T00:00:00Z", "document_hash": "cd" * 32,
    "document": {"id": "urn:uuid:00000000-0000-4000-8000-000000000001"},
}
V1_STACK = {"stack_id": "stk-1", "pathway_id": "p", "learner_hash": "sha256$" + "ab" * 32,
            "component_ids": ["urn:uuid:1"], "award_credential_id": "urn:uuid:2"}


def recorded(event_type: str, payload: dict) -> RecordedEvent:
    return RecordedEvent(position=1, stream_id="s", version=1, event_type=event_type,
                         payload=msgspec.Raw(msgspec.json.encode(payload)), metadata=msgspec.Raw(b"{}"),
                         prev_hash=b"\0" * 32, hash=b"\0" * 32)


def test_version_1_events_upcast_to_version_2():
    issued = CATALOG.decode(recorded(CredentialIssued.event_type, V1_ISSUED))
    stack = CATALOG.decode(recorded(StackClaimed.event_type, V1_STACK))
    assert isinstance(issued, CredentialIssued) and issued.learner_hash == V1_ISSUED["learner_hash"]
    assert bytes(issued.document) == msgspec.json.encode(V1_ISSUED["document"])
    assert isinstance(stack, StackClaimed) and stack.learner_hash == V1_STACK["learner_hash"]


def test_current_stack_claims_name_no_learner_and_round_trip():
    claimed = StackClaimed(stack_id="stk-1", pathway_id="p",
                           component_ids=["urn:uuid:1"], award_credential_id="urn:uuid:2")
    payload = CATALOG.encode(claimed)
    assert b"lk$" not in payload and payload.startswith(b'{"_class_version":3,')
    decoded = CATALOG.decode(recorded(StackClaimed.event_type, msgspec.json.decode(payload)))
    assert decoded == claimed and decoded.learner_hash is None


def test_version_2_stack_claims_upcast_with_no_admissions_and_the_pathway_as_pool():
    v2 = {"_class_version": 2, "award_credential_id": "urn:uuid:2", "automatic": False,
          "component_ids": ["urn:uuid:1"], "pathway_id": "p", "stack_id": "stk-1"}
    decoded = CATALOG.decode(recorded(StackClaimed.event_type, v2))
    assert isinstance(decoded, StackClaimed) and decoded.admissions == [] and decoded.credit_pool is None
