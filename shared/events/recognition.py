"""Recognition events: agreements that let one institution's credentials
count toward another's pathways, and framework referencing.

Streams: `recognition:{agreement id}`, `referencing:{framework id}` (each
FrameworkReferenced on it is the next published version of that
framework's referencing; the stream version is the referencing version).
Times are RFC 3339 UTC strings ("...Z").
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from shared.events.registry import Amount, Code, Days, Part
from shared.ledger.eventstore.events import Event

# The EQF is the reference every national framework is mapped to; a rule
# or a mapping names it with this id instead of a published framework id.
EQF = "EQF"
AgreementEffect = Literal["keep", "flag"]


class CredentialMatch(Part, frozen=True, kw_only=True):
    """Which credentials an agreement admits: a named achievement of another
    issuer, or any approved achievement at the given levels, field and
    minimum workload, from issuers accredited by the named agencies."""

    achievement_id: Code | None = None
    # Levels of `framework_id` ("EQF" or a published framework); a credential
    # of another framework matches at its mapped level (framework referencing).
    framework_id: Code = EQF
    levels: Annotated[list[Code], Meta(max_length=20)] = []
    # ISCED-F 2013 codes; a broad code covers its narrow ones; empty: any field.
    fields: Annotated[list[Code], Meta(max_length=50)] = []
    min_ects: Amount | None = None
    min_hours: Amount | None = None
    # The component's issuer must have been accredited by one of these
    # agencies (or their sub-agencies) when it issued; empty: any agency.
    accredited_by: Annotated[list[Code], Meta(max_length=50)] = []


class RecognitionAgreementDeclared(Event, frozen=True, kw_only=True):
    event_type = "registry.RecognitionAgreementDeclared"
    agreement_id: str
    # An issuer for its own pathways, or an agency for every issuer it accredits.
    recognising_kind: Literal["issuer", "agency"]
    recognising_id: str
    # Only these of the recognising issuers' pathways; empty: all of them.
    pathway_ids: Annotated[list[Code], Meta(max_length=100)] = []
    match: CredentialMatch
    valid_from: str
    valid_until: str | None = None
    # The component may be at most this old (from its validFrom) when a claim uses it.
    max_credential_age_days: Days | None = None
    # ECTS credits one admitted credential brings to a pathway.
    credit_value: Amount
    # What a revocation of the agreement does to awards it already admitted components of.
    on_revoked: AgreementEffect = "flag"
    title: str = ""


class RecognitionAgreementRevoked(Event, frozen=True, kw_only=True):
    event_type = "registry.RecognitionAgreementRevoked"
    agreement_id: str
    revoked_by: str  # the agency or issuer
    reason: str
    at: str


class LevelMapping(Part, frozen=True, kw_only=True):
    level_code: Code  # a level of the referenced framework
    target_level: Code  # the level of the target framework it corresponds to


class FrameworkReferenced(Event, frozen=True, kw_only=True):
    """How a national framework's levels correspond to the EQF's (or to
    another framework's), as the agency that published it references them."""

    event_type = "registry.FrameworkReferenced"
    framework_id: str
    agency_id: str
    target_framework_id: Code = EQF
    mappings: Annotated[list[LevelMapping], Meta(max_length=50)]
    report_url: str = ""
    at: str


EVENTS: tuple[type[Event], ...] = (RecognitionAgreementDeclared, RecognitionAgreementRevoked, FrameworkReferenced)
