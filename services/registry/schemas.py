"""Request bodies of the registry API.

Value objects that events already define (scopes, framework levels,
identifiers, achievement specs, pathway rules) are reused as they are, so a
request field and the event field it becomes cannot drift apart. The
constraints below turn malformed values into 422 problems naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from shared.events import registry as ev

Slug = Annotated[str, Meta(
    pattern=r"^[a-z0-9][a-z0-9-]{1,62}$",
    description="2-63 lower-case letters, digits and hyphens (generated when omitted)",
)]
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. IE")]
Jurisdiction = Annotated[str, Meta(
    pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
    description="ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision, e.g. IE or BE-VLG",
)]
Name = Annotated[str, Meta(min_length=1, max_length=300)]
Reason = Annotated[str, Meta(min_length=3, max_length=2000, description="why, for the audit log")]
Url = Annotated[str, Meta(pattern=r"^(https?://\S{1,2000})?$", description="an http(s) URL, or empty")]
Email = Annotated[str, Meta(pattern=r"^([^@\s]{1,64}@[^@\s]{1,255})?$", description="an email address, or empty")]
Moment = Annotated[dt.datetime, Meta(tz=True, description="RFC 3339 date-time with an offset")]
Custody = Literal["hosted", "issuer_held"]


class Request(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: unknown fields are an error, not ignored."""


class CreateAgency(Request):
    name: Name
    jurisdiction: Jurisdiction
    agency_id: Slug | None = None
    # Default: a root agency gets EQF 1-8 in every field; a sub-agency gets
    # its parent's own scope.
    scope: ev.AccreditationScope | None = None
    admin_client_name: Annotated[str, Meta(max_length=300)] = ""
    # The delegation's window (sub-agencies only); default: from now, open-ended.
    valid_until: Moment | None = None


class GrantAccreditation(Request):
    subject_kind: Literal["agency", "issuer"]
    subject_id: Slug
    scope: ev.AccreditationScope
    accreditation_id: Slug | None = None
    valid_from: Moment | None = None
    valid_until: Moment | None = None


class SuspendAccreditation(Request):
    reason: Reason


class WithdrawAccreditation(Request):
    reason: Reason
    credentials_policy: Literal["keep", "revoke_issued_after"] = "keep"
    revoke_issued_after: Moment | None = None


class PublishFramework(Request):
    name: Name
    credit_system: ev.CreditSystem
    levels: Annotated[list[ev.FrameworkLevel], Meta(min_length=1, max_length=50)]
    framework_id: Slug | None = None
    hours_per_credit: Annotated[float, Meta(gt=0, le=100)] | None = None


class RegisterIssuer(Request):
    legal_name: Name
    country: Country
    issuer_id: Slug | None = None
    homepage: Url = ""
    email: Email = ""
    identifiers: Annotated[list[ev.Identifier], Meta(max_length=20)] = []


class UpdateIssuer(Request):
    """Only the fields given change."""

    legal_name: Name | None = None
    homepage: Url | None = None
    email: Email | None = None


class AddKey(Request):
    """`hosted`: the registry generates the key and keeps the private half
    sealed; `issuer_held`: send the public key (Ed25519 Multikey, 'z6Mk...')."""

    custody: Custody
    key_id: Slug | None = None
    public_key_multibase: Annotated[str, Meta(max_length=100)] | None = None
    valid_from: Moment | None = None
    valid_until: Moment | None = None


class RotateKey(Request):
    """Adds a new key valid from now and ends the old key's window now."""

    custody: Custody
    new_key_id: Slug | None = None
    public_key_multibase: Annotated[str, Meta(max_length=100)] | None = None


class CompromiseKey(Request):
    """Signatures made at or after `compromised_at` become invalid."""

    compromised_at: Moment
    reason: Reason


class ProposeAchievement(Request):
    spec: ev.AchievementSpec
    achievement_id: Slug | None = None


class Decision(Request):
    reason: Reason


class ProposePathway(Request):
    title: Name
    award_achievement_id: Slug
    rule: ev.PathwayRule
    pathway_id: Slug | None = None


class CreateClient(Request):
    role: ev.Role
    # An agency id (agency_admin), an issuer id (issuer), or a new tenant
    # name for an employer or auditor organisation.
    tenant_id: Slug
    name: Name
    rate_limit_class: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "standard"
