"""Request and response bodies of recognition agreements and framework referencing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from services.registry.schemas import Name, Reason, Slug, Url
from services.registry.views import View, Written
from shared.events import recognition as rec
from shared.events.registry import Amount, Code, Days


class DeclareAgreement(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Declared by an issuer (for its own pathways) or an agency (for every
    issuer it accredits), with the caller's key."""

    agreement_id: Slug | None = None
    title: Name
    pathway_ids: Annotated[list[Code], Meta(max_length=100)] = []
    match: rec.CredentialMatch
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    max_credential_age_days: Days | None = None
    credit_value: Amount
    on_revoked: rec.AgreementEffect = "flag"


class RevokeAgreement(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class ReferenceFramework(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    target_framework_id: Code = rec.EQF
    mappings: Annotated[list[rec.LevelMapping], Meta(min_length=1, max_length=50)]
    report_url: Url = ""


class AgreementView(View):
    agreement_id: str
    title: str
    recognising_kind: Literal["issuer", "agency"]
    recognising_id: str
    pathway_ids: list[str]
    match: rec.CredentialMatch
    valid_from: str
    valid_until: str | None
    max_credential_age_days: int | None
    credit_value: float
    on_revoked: rec.AgreementEffect
    status: Literal["declared", "revoked"]
    # True while declared and inside its window.
    in_force: bool
    revocation: rec.RecognitionAgreementRevoked | None
    created_at: str
    version: int


class AgreementWritten(Written, kw_only=True):
    agreement: AgreementView


class ReferencingView(View):
    framework_id: str
    # The referencing's version: 1 for the first published, then 2, ...
    version: int
    agency_id: str
    target_framework_id: str
    mappings: list[rec.LevelMapping]
    report_url: str
    published_at: str


class FrameworkReferencing(View):
    framework_id: str
    # The newest version to each target framework: what claims are judged by now.
    current: list[ReferencingView]
    history: list[ReferencingView]


class ReferencingWritten(Written, kw_only=True):
    referencing: FrameworkReferencing


class RegisterEndorser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An organisation the agency registered (as an issuer profile, with its
    did:web and a hosted key) becomes an endorser."""

    endorser_id: Code


class EndorserView(View):
    endorser_id: str
    agency_id: str
    registered_at: str


class EndorserWritten(Written, kw_only=True):
    endorser: EndorserView
