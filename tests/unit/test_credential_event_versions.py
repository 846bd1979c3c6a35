"""Learner-bearing events are versioned: version 1 payloads (older ledgers,
a salt derived from the identity, StackClaimed naming the learner) still
decode; version 2 carries no learner key and StackClaimed names no learner."""

from __future__ import annotations

import msgspec

from shared.events import CATALOG
from shared.events.credentials import LEARNER_EVENT_VERSION, CredentialIssued, StackClaimed
from shared.ledger.events import RecordedEvent

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


def test_version_1_events_decode_as_version_1():
    issued = CATALOG.decode(recorded(CredentialIssued.event_type, V1_ISSUED))
    stack = CATALOG.decode(recorded(StackClaimed.event_type, V1_STACK))
    assert isinstance(issued, CredentialIssued) and issued.schema_version == 1
    assert isinstance(stack, StackClaimed) and stack.schema_version == 1
    assert stack.learner_hash == V1_STACK["learner_hash"]


def test_version_2_stack_claims_name_no_learner_and_round_trip():
    claimed = StackClaimed(schema_version=LEARNER_EVENT_VERSION, stack_id="stk-1", pathway_id="p",
                           component_ids=["urn:uuid:1"], award_credential_id="urn:uuid:2")
    payload = CATALOG.encode(claimed)
    assert b"lk$" not in payload
    decoded = CATALOG.decode(recorded(StackClaimed.event_type, msgspec.json.decode(payload)))
    assert decoded == claimed and decoded.learner_hash is None
