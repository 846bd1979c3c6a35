"""Endorsements: an organisation registered as an endorser (an employer,
say) signs an Open Badges 3.0 EndorsementCredential about a learner's
credential or a workplace-learning record.

Streams: `endorser:{issuer id}` (the registration; the endorser's profile,
did:web and keys are an issuer profile's), and the endorsement's own
`credential:{uuid}`, like any credential.
"""

from __future__ import annotations

import msgspec

from shared.ledger.eventstore.events import Event


class EndorserRegistered(Event, frozen=True, kw_only=True):
    event_type = "registry.EndorserRegistered"
    endorser_id: str  # an issuer profile registered by the agency
    agency_id: str
    at: str


class EndorsementIssued(Event, frozen=True, kw_only=True):
    event_type = "issuance.EndorsementIssued"
    credential_id: str  # "urn:uuid:..."
    endorser_id: str
    key_id: str
    # What is endorsed: a credential id or the URL of a workplace-learning record.
    subject_id: str
    issued_at: str
    document_hash: str  # SHA-256 (hex) of the document's RFC 8785 form
    document: msgspec.Raw  # that form, as signed


EVENTS: tuple[type[Event], ...] = (EndorserRegistered, EndorsementIssued)
