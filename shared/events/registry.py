"""Registry events: agencies, accreditation, frameworks, issuers and their
keys, achievement specifications, stacking pathways and API clients.

Streams: `agency:{id}`, `accreditation:{id}`, `framework:{id}`,
`issuer:{id}` (keys live on their issuer's stream), `achievement:{id}`,
`pathway:{id}`, `client:{id}`. Times are RFC 3339 UTC strings ("...Z").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from shared.ledger.eventstore.events import Event

Role = Literal["agency_admin", "issuer", "employer", "auditor"]
# Bounds on what a request may put into an event (these value objects are
# request bodies too): every list and number has a maximum, stated in the
# OpenAPI document, so one request cannot make unbounded work or storage.
# They are far beyond any real value, so no recorded event exceeds them.
EqfLevel = Annotated[int, Meta(ge=1, le=8, description="EQF level, 1 to 8")]
Code = Annotated[str, Meta(max_length=200)]
Days = Annotated[int, Meta(ge=0, le=36_500)]
Amount = Annotated[float, Meta(ge=0, le=100_000)]

CreditSystem = Literal["ECTS", "national_credits", "notional_hours"]


class Part(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of value objects nested in events."""


class AccreditationScope(Part, frozen=True, kw_only=True):
    # Framework ids the holder may issue under; empty means any of the
    # accreditor's own frameworks.
    frameworks: Annotated[list[Code], Meta(max_length=50)] = []
    # EQF levels 1-8 the holder may award.
    eqf_levels: Annotated[list[EqfLevel], Meta(max_length=8)] = []
    # ISCED-F 2013 field codes (e.g. "0613"); "*" means every field.
    fields: Annotated[list[Code], Meta(max_length=200)] = msgspec.field(default_factory=lambda: ["*"])
    credit_bearing: bool = True


class AgencyCreated(Event, frozen=True, kw_only=True):
    event_type = "registry.AgencyCreated"
    agency_id: str
    name: str
    jurisdiction: str  # ISO 3166-1 alpha-2
    parent_agency_id: str | None = None
    scope: AccreditationScope


class AccreditationGranted(Event, frozen=True, kw_only=True):
    event_type = "registry.AccreditationGranted"
    accreditation_id: str
    accreditor_id: str  # the granting agency
    subject_kind: Literal["agency", "issuer"]
    subject_id: str
    scope: AccreditationScope
    valid_from: str
    valid_until: str | None = None


class AccreditationSuspended(Event, frozen=True, kw_only=True):
    event_type = "registry.AccreditationSuspended"
    accreditation_id: str
    reason: str
    at: str


class AccreditationReinstated(Event, frozen=True, kw_only=True):
    event_type = "registry.AccreditationReinstated"
    accreditation_id: str
    at: str


class AccreditationWithdrawn(Event, frozen=True, kw_only=True):
    event_type = "registry.AccreditationWithdrawn"
    accreditation_id: str
    reason: str
    at: str
    # What happens to credentials already issued under it: the agency's call.
    credentials_policy: Literal["keep", "revoke_issued_after"] = "keep"
    revoke_issued_after: str | None = None


class FrameworkLevel(Part, frozen=True, kw_only=True):
    code: str
    title: str
    eqf_level: EqfLevel | None = None


class FrameworkPublished(Event, frozen=True, kw_only=True):
    event_type = "registry.FrameworkPublished"
    framework_id: str
    agency_id: str
    name: str
    credit_system: CreditSystem
    hours_per_credit: float | None = None
    levels: list[FrameworkLevel]


class Identifier(Part, frozen=True, kw_only=True):
    scheme: str  # e.g. "erasmus", "lei", "national-register"
    value: str


class IssuerRegistered(Event, frozen=True, kw_only=True):
    event_type = "registry.IssuerRegistered"
    issuer_id: str
    registered_by: str  # agency id
    legal_name: str
    country: str
    did: str  # did:web served by the registry
    homepage: str = ""
    email: str = ""
    identifiers: Annotated[list[Identifier], Meta(max_length=20)] = []


class IssuerUpdated(Event, frozen=True, kw_only=True):
    event_type = "registry.IssuerUpdated"
    issuer_id: str
    legal_name: str
    homepage: str
    email: str


class IssuerKeyAdded(Event, frozen=True, kw_only=True):
    event_type = "registry.IssuerKeyAdded"
    issuer_id: str
    key_id: str  # verification method fragment, e.g. "key-2026-01"
    public_key_multibase: str  # Ed25519 multikey, "z6Mk..."
    custody: Literal["hosted", "issuer_held"]
    valid_from: str
    valid_until: str | None = None


class IssuerKeyRetired(Event, frozen=True, kw_only=True):
    """The key's window ends (rotation); what it signed before stays valid."""

    event_type = "registry.IssuerKeyRetired"
    issuer_id: str
    key_id: str
    valid_until: str


class IssuerKeyCompromised(Event, frozen=True, kw_only=True):
    """Signatures made with the key at or after `compromised_at` are invalid."""

    event_type = "registry.IssuerKeyCompromised"
    issuer_id: str
    key_id: str
    compromised_at: str
    reason: str


class Workload(Part, frozen=True, kw_only=True):
    ects: Amount | None = None
    hours: Amount | None = None


class Skill(Part, frozen=True, kw_only=True):
    uri: str  # ESCO or another framework's URI
    name: str


class AchievementSpec(Part, frozen=True, kw_only=True):
    """An approved micro-credential's content: the EU Council Recommendation
    (2022) standard elements, mapped to an Open Badges 3.0 Achievement."""

    title: str
    description: str
    criteria: str
    achievement_type: str = "MicroCredential"
    country: str
    language: str = "en"
    learning_outcomes: Annotated[list[str], Meta(max_length=100)]
    workload: Workload
    eqf_level: EqfLevel
    framework_id: str | None = None
    level_code: str | None = None
    field: str  # ISCED-F 2013 code
    assessment_type: str
    participation_form: Literal["online", "onsite", "blended"]
    quality_assurance: str
    credit_bearing: bool = True
    prior_learning_recognised: bool = False
    prerequisites: Annotated[list[str], Meta(max_length=100)] = []
    identity_check: str | None = None
    grading_scheme: str | None = None
    stackable: bool = True
    skills: Annotated[list[Skill], Meta(max_length=200)] = []
    image: str | None = None
    validity_days: Days | None = None


class AchievementProposed(Event, frozen=True, kw_only=True):
    event_type = "registry.AchievementProposed"
    achievement_id: str
    issuer_id: str
    spec: AchievementSpec


class AchievementApproved(Event, frozen=True, kw_only=True):
    event_type = "registry.AchievementApproved"
    achievement_id: str
    agency_id: str
    at: str


class AchievementRejected(Event, frozen=True, kw_only=True):
    event_type = "registry.AchievementRejected"
    achievement_id: str
    agency_id: str
    reason: str


class AchievementWithdrawn(Event, frozen=True, kw_only=True):
    event_type = "registry.AchievementWithdrawn"
    achievement_id: str
    reason: str


ImageMediaType = Literal["image/png", "image/svg+xml"]


class AchievementImageUploaded(Event, frozen=True, kw_only=True):
    """The achievement's badge image, vetted before it was recorded; the
    latest upload replaces earlier ones. `content` is base64 in JSON."""

    event_type = "registry.AchievementImageUploaded"
    achievement_id: str
    media_type: ImageMediaType
    content: bytes
    sha256: str  # hex, of content


class ChoiceGroup(Part, frozen=True, kw_only=True):
    k: Annotated[int, Meta(ge=1, le=100)]
    of: Annotated[list[Code], Meta(max_length=100)]  # achievement ids


class PathwayRule(Part, frozen=True, kw_only=True):
    required: Annotated[list[Code], Meta(max_length=100)] = []  # achievement ids that must all be held
    choices: Annotated[list[ChoiceGroup], Meta(max_length=20)] = []
    min_credits: Amount = 0.0  # ECTS
    min_eqf_level: EqfLevel | None = None
    max_component_age_days: Days | None = None
    allow_other_issuers: bool = False
    on_component_revoked: Literal["revoke", "flag"] = "flag"
    auto_award: bool = False
    # Awards of pathways in one credit pool cannot share a component's
    # credits: once redeemed for one, it counts toward no other. Pathways of
    # different pools may share. Default: the pathway's own id.
    credit_pool: Code | None = None


class PathwayProposed(Event, frozen=True, kw_only=True):
    """Version 2: the rule may name a credit pool (absent before: the pathway's own)."""

    event_type = "registry.PathwayProposed"
    class_version = 2
    pathway_id: str
    issuer_id: str
    title: str
    award_achievement_id: str
    rule: PathwayRule

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> dict[str, Any]:
        return state


class PathwayApproved(Event, frozen=True, kw_only=True):
    event_type = "registry.PathwayApproved"
    pathway_id: str
    agency_id: str
    at: str


class PathwayWithdrawn(Event, frozen=True, kw_only=True):
    event_type = "registry.PathwayWithdrawn"
    pathway_id: str
    reason: str


class ApiClientCreated(Event, frozen=True, kw_only=True):
    event_type = "registry.ApiClientCreated"
    client_id: str
    tenant_id: str
    role: Role
    name: str
    rate_limit_class: str = "standard"


class ApiKeyIssued(Event, frozen=True, kw_only=True):
    """Only the SHA-256 of the key is recorded; the key is shown once."""

    event_type = "registry.ApiKeyIssued"
    client_id: str
    key_id: str
    key_hash: str  # hex


class ApiKeyRevoked(Event, frozen=True, kw_only=True):
    event_type = "registry.ApiKeyRevoked"
    client_id: str
    key_id: str


class ApiClientRevoked(Event, frozen=True, kw_only=True):
    event_type = "registry.ApiClientRevoked"
    client_id: str


EVENTS: tuple[type[Event], ...] = (
    AgencyCreated, AccreditationGranted, AccreditationSuspended, AccreditationReinstated,
    AccreditationWithdrawn, FrameworkPublished, IssuerRegistered, IssuerUpdated,
    IssuerKeyAdded, IssuerKeyRetired, IssuerKeyCompromised, AchievementProposed,
    AchievementApproved, AchievementRejected, AchievementWithdrawn, AchievementImageUploaded, PathwayProposed,
    PathwayApproved, PathwayWithdrawn, ApiClientCreated, ApiKeyIssued, ApiKeyRevoked,
    ApiClientRevoked,
)

# Public by nature, so the transparency log shows them in the clear. API
# clients and their key hashes are access control, not registry facts: like
# every event not listed here, the public log shows only their digests.
PUBLIC_EVENTS: tuple[type[Event], ...] = tuple(
    e for e in EVENTS if e not in (ApiClientCreated, ApiKeyIssued, ApiKeyRevoked, ApiClientRevoked)
)


# The ledger stream of each registry resource: one stream per resource, so
# the expected versions of a write name exactly what it decided on.
def agency_stream(agency_id: str) -> str:
    return "agency:" + agency_id


def accreditation_stream(accreditation_id: str) -> str:
    return "accreditation:" + accreditation_id


def framework_stream(framework_id: str) -> str:
    return "framework:" + framework_id


def issuer_stream(issuer_id: str) -> str:
    return "issuer:" + issuer_id


def achievement_stream(achievement_id: str) -> str:
    return "achievement:" + achievement_id


def pathway_stream(pathway_id: str) -> str:
    return "pathway:" + pathway_id


def client_stream(client_id: str) -> str:
    return "client:" + client_id
