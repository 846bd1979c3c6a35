"""Response bodies of the registry API: what a client reads back.

Every write answers with the resource as it now reads from the registry's
tables and the ledger positions the write produced.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

import msgspec

from shared.events import registry as ev

T = TypeVar("T")


class View(msgspec.Struct, kw_only=True):
    """Base of response bodies."""


class Page(View, Generic[T]):
    items: list[T]
    # Pass as ?cursor= for the next page; null on the last page.
    next_cursor: str | None = None


class AgencyView(View):
    agency_id: str
    name: str
    jurisdiction: str
    parent_agency_id: str | None
    scope: ev.AccreditationScope
    created_at: str
    version: int


class Suspension(View):
    from_: str = msgspec.field(name="from")
    until: str | None
    reason: str


class AccreditationView(View):
    accreditation_id: str
    accreditor_id: str
    subject_kind: Literal["agency", "issuer"]
    subject_id: str
    country: str
    scope: ev.AccreditationScope
    valid_from: str
    valid_until: str | None
    status: Literal["active", "suspended", "withdrawn"]
    status_reason: str
    # False when suspended, withdrawn or outside its window right now.
    in_force: bool
    suspensions: list[Suspension]
    withdrawal: ev.AccreditationWithdrawn | None
    created_at: str
    version: int


class FrameworkView(View):
    framework_id: str
    agency_id: str
    name: str
    credit_system: ev.CreditSystem
    hours_per_credit: float | None
    levels: list[ev.FrameworkLevel]
    created_at: str
    version: int


class KeyView(View):
    key_id: str
    verification_method: str
    did_key: str
    public_key_multibase: str
    custody: Literal["hosted", "issuer_held"]
    valid_from: str
    valid_until: str | None
    compromised_at: str | None
    compromise_reason: str
    # Right now: pending (window not started), active, retired (window
    # ended) or compromised.
    status: Literal["pending", "active", "retired", "compromised"]


class IssuerView(View):
    issuer_id: str
    legal_name: str
    country: str
    did: str
    homepage: str
    email: str
    identifiers: list[ev.Identifier]
    registered_by: str
    # Holds an accreditation in force right now.
    accredited: bool
    created_at: str
    updated_at: str
    version: int


class IssuerProfile(IssuerView, kw_only=True):
    accreditations: list[AccreditationView]
    keys: list[KeyView]


class AchievementView(View):
    achievement_id: str
    issuer_id: str
    status: Literal["proposed", "approved", "rejected", "withdrawn"]
    spec: ev.AchievementSpec
    decided_by: str | None
    decided_at: str | None
    status_reason: str
    created_at: str
    version: int


class PathwayView(View):
    pathway_id: str
    issuer_id: str
    title: str
    award_achievement_id: str
    rule: ev.PathwayRule
    status: Literal["proposed", "approved", "withdrawn"]
    decided_by: str | None
    decided_at: str | None
    status_reason: str
    created_at: str
    version: int


class ApiKeyView(View):
    key_id: str
    created_at: str
    revoked_at: str | None


class ClientView(View):
    client_id: str
    tenant_id: str
    role: ev.Role
    name: str
    rate_limit_class: str
    created_by: str
    created_at: str
    revoked_at: str | None
    keys: list[ApiKeyView]
    version: int


# -- write answers ------------------------------------------------------------------

class Written(View):
    # The ledger positions this request appended, in order.
    positions: list[int]


class AgencyCreatedView(Written, kw_only=True):
    agency: AgencyView
    admin_client_id: str
    admin_key_id: str
    # Shown once; the registry keeps only its SHA-256.
    admin_api_key: str


class AccreditationWritten(Written, kw_only=True):
    accreditation: AccreditationView


class FrameworkWritten(Written, kw_only=True):
    framework: FrameworkView


class IssuerWritten(Written, kw_only=True):
    issuer: IssuerView


class KeyWritten(Written, kw_only=True):
    key: KeyView
    # Set by a rotation: the key whose window it ended.
    retired_key_id: str | None = None


class AchievementWritten(Written, kw_only=True):
    achievement: AchievementView


class PathwayWritten(Written, kw_only=True):
    pathway: PathwayView


class ClientWritten(Written, kw_only=True):
    client: ClientView


class ClientCreated(Written, kw_only=True):
    client: ClientView
    key_id: str
    # Shown once; the registry keeps only its SHA-256.
    api_key: str


class ApiKeyIssuedView(Written, kw_only=True):
    client_id: str
    key_id: str
    # Shown once; the registry keeps only its SHA-256.
    api_key: str
