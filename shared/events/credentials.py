"""Credential lifecycle events: issuance, stacking, revocation, suspension.

Every credential has its own stream, `credential:{uuid}`, so its version
number orders its lifecycle and the optimistic-concurrency check stops two
conflicting status changes. Stacks are `stack:{id}`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from shared.ledger.eventstore.events import Event

StatusPurpose = Literal["revocation", "suspension"]
ReasonCode = Literal[
    "issued_in_error", "fraud", "misconduct", "superseded", "key_compromise",
    "accreditation_withdrawn", "component_revoked", "under_investigation", "recognition_revoked", "other",
]
CauseKind = Literal["manual", "component_revoked", "key_compromised", "accreditation_withdrawn",
                    "recognition_revoked"]


class StatusEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    purpose: StatusPurpose
    list_id: str
    index: int


class Cause(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Why an automatic status change happened, naming what triggered it."""

    kind: CauseKind
    ref: str  # the component credential, key id, accreditation or recognition agreement id



class CredentialIssued(Event, frozen=True, kw_only=True):
    """Version 2: the IdentityObject salt is random per credential, and the
    learner key that links one learner's credentials stays in the issuance
    service's tables, out of every event. In version 1 the salt was derived
    from the identity; the fields are the same, so it upcasts unchanged."""

    event_type = "issuance.CredentialIssued"
    class_version = 2
    credential_id: str  # "urn:uuid:..."
    issuer_id: str
    achievement_id: str
    key_id: str
    # "sha256$<hex>" of identity+salt, as in the credential's IdentityObject.
    learner_hash: str
    issued_at: str
    valid_from: str
    valid_until: str | None = None
    issuer_reference: str | None = None
    status: list[StatusEntry] = []
    pathway_id: str | None = None
    components: list[str] = []
    signing: Literal["hosted", "issuer_signed"] = "hosted"
    # SHA-256 (hex) of the signed credential's RFC 8785 form, and that form
    # itself, embedded verbatim: the exact bytes the issuer signed.
    document_hash: str
    document: msgspec.Raw
    # SHA-256 (hex) of the learner link token that lets the holder fetch it.
    holder_token_hash: str = ""

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> dict[str, Any]:
        return state


class Admission(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How one component came to count toward an award."""

    component_id: str
    # The recognition agreement that admitted a component of another issuer;
    # None for the pathway issuer's own (or a component its rule names).
    agreement_id: str | None = None
    credits: float = 0.0


class StackClaimed(Event, frozen=True, kw_only=True):
    """Version 3 records how each component was admitted and the credit pool
    its credits were redeemed in; earlier versions had neither (pool: the pathway)."""

    event_type = "issuance.StackClaimed"
    class_version = 3
    stack_id: str
    pathway_id: str
    # Version 1 only (the learner's platform-wide hash); version 2 names no
    # learner: the award credential does, with its own salt.
    learner_hash: str | None = None
    component_ids: list[str]
    award_credential_id: str
    automatic: bool = False
    admissions: list[Admission] = []
    credit_pool: str | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> dict[str, Any]:
        return state  # learner_hash stays: version 1's platform-wide hash

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> dict[str, Any]:
        return state  # no admissions recorded; the pool defaults to the pathway


class CredentialRevoked(Event, frozen=True, kw_only=True):
    event_type = "revocation.CredentialRevoked"
    credential_id: str
    reason_code: ReasonCode
    reason: str
    cause: Cause | None = None


class CredentialSuspended(Event, frozen=True, kw_only=True):
    event_type = "revocation.CredentialSuspended"
    credential_id: str
    reason_code: ReasonCode
    reason: str
    cause: Cause | None = None


class CredentialReinstated(Event, frozen=True, kw_only=True):
    event_type = "revocation.CredentialReinstated"
    credential_id: str
    reason_code: ReasonCode
    reason: str


class CredentialFlaggedForReview(Event, frozen=True, kw_only=True):
    """A stacked award whose pathway says 'flag' when a component is revoked."""

    event_type = "revocation.CredentialFlaggedForReview"
    credential_id: str
    reason: str
    cause: Cause


EVENTS: tuple[type[Event], ...] = (
    CredentialIssued, StackClaimed, CredentialRevoked, CredentialSuspended,
    CredentialReinstated, CredentialFlaggedForReview,
)


def credential_stream(credential_id: str) -> str:
    return "credential:" + credential_id.removeprefix("urn:uuid:")


def stack_stream(stack_id: str) -> str:
    return "stack:" + stack_id
