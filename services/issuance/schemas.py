"""Request and response bodies of the issuance API (also its OpenAPI schemas)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from shared.refusals import RefusalRecord

MAX_BATCH = 10_000

Reference = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                                description="The issuer's own id for this record, unique per issuer")]
Text = Annotated[str, Meta(max_length=4000)]


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown fields are an error, not silently dropped."""


class LearnerIdentity(Request):
    """Exactly one of the two. Only a salted hash of it enters the credential."""

    email: Annotated[str, Meta(max_length=254)] | None = None
    national_id: Annotated[str, Meta(max_length=64)] | None = None


class EvidenceItem(Request):
    url: Annotated[str, Meta(max_length=2000)] | None = None
    name: Annotated[str, Meta(max_length=500)] | None = None
    narrative: Text | None = None
    # What kind of evidence, e.g. "assessment", "workplace learning",
    # "recognition of prior learning".
    genre: Annotated[str, Meta(max_length=200)] | None = None
    # OB 3.0 Evidence.description and .audience: for a recognition of prior
    # learning, what was assessed against which outcomes, and for whom.
    description: Text | None = None
    audience: Annotated[str, Meta(max_length=500)] | None = None


class CredentialRequest(Request):
    reference: Reference
    achievement_id: Annotated[str, Meta(min_length=1, max_length=200)]
    learner: LearnerIdentity
    # RFC 3339 date ("2026-06-30") or date-time with offset; default: now.
    issued_on: Annotated[str, Meta(max_length=40)] | None = None
    # Default: issued_on plus the achievement's validity_days, if it has one.
    valid_until: Annotated[str, Meta(max_length=40)] | None = None
    grade: Annotated[str, Meta(max_length=200)] | None = None
    evidence: Annotated[list[EvidenceItem], Meta(max_length=50)] = []


class BatchRequest(Request):
    # The 10,000 limit is checked by the handler, which answers 413 in words;
    # the schema states it.
    items: Annotated[list[CredentialRequest], Meta(extra_json_schema={"maxItems": MAX_BATCH})]


class SignedCredentialRequest(Request):
    """A credential the issuer signed in its own system (eddsa-jcs-2022)."""

    reference: Reference
    credential: dict[str, Any]
    # The learner its IdentityObject hashes (checked against it; only the
    # platform's keyed hash of it is kept, for stacking and pathways).
    learner: LearnerIdentity


class StackRequest(Request):
    pathway_id: Annotated[str, Meta(min_length=1, max_length=200)]
    component_ids: Annotated[list[Annotated[str, Meta(max_length=200)]], Meta(min_length=1, max_length=100)]
    # The learner link token of one of the components, when the learner
    # (not the issuer) claims the award.
    holder_token: Annotated[str, Meta(max_length=200)] | None = None


class LearnerHashRequest(Request):
    learner: LearnerIdentity


class IssuedCredential(msgspec.Struct, kw_only=True):
    credential_id: str
    reference: str
    position: int
    # This credential's identityHash (a fresh salt every time).
    learner_hash: str
    # The platform's key for the learner, for /v1/learners/{learner_key}/...
    # (only ever shown to the issuer).
    learner_key: str = ""
    # Lets the learner fetch the credential: GET /v1/credentials/{id}?token=...
    holder_token: str = ""
    existing: bool = False


Outcome = Literal["issued", "existing", "rejected"]


class _Item(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    reference: str
    outcome: Outcome
    credential_id: str | None = None
    position: int | None = None
    learner_hash: str | None = None
    learner_key: str | None = None
    holder_token: str | None = None


class ItemOutcome(_Item, kw_only=True, omit_defaults=True):
    """One item's outcome as issuance decides and stores it."""

    refusal: RefusalRecord | None = None


class ItemAnswer(_Item, kw_only=True, omit_defaults=True):
    """An item outcome as the API shows it: the refusal as problem details."""

    problem: dict[str, Any] | None = None


class BatchResponse(msgspec.Struct, kw_only=True):
    issued: int
    existing: int
    rejected: int
    items: list[ItemAnswer]


class StackResponse(msgspec.Struct, kw_only=True):
    stack_id: str
    pathway_id: str
    award_credential_id: str
    component_ids: list[str]
    positions: list[int]
    holder_token: str = ""


class ChoiceProgress(msgspec.Struct, kw_only=True):
    k: int
    of: list[str]
    held: list[str]


class PathwayProgress(msgspec.Struct, kw_only=True):
    pathway_id: str
    title: str
    award_achievement_id: str
    # achievement id -> the credential that counts for it
    held: dict[str, str]
    missing_required: list[str]
    choices: list[ChoiceProgress]
    credits_held: float
    credits_required: float
    credits_needed: float
    eligible: bool
    awarded_credential_id: str | None = None


class LearnerPathways(msgspec.Struct, kw_only=True):
    learner_key: str
    pathways: list[PathwayProgress]


class LearnerHash(msgspec.Struct, kw_only=True):
    """A fresh IdentityObject for one issuer-signed credential, and the learner key."""

    identity_type: str
    salt: str
    learner_hash: str
    learner_key: str
