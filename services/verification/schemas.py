"""Request and response bodies of the verification API, defined once.

The OpenAPI document is generated from these, and the hot path's prebuilt
byte fragments are produced by encoding these same Structs, so the fast and
the general path cannot drift apart in shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

# Per-item problems are the refusals' problem details (one status table).
from shared.http.problem import ItemProblem

Verdict = Literal["valid", "invalid", "unknown"]
CheckStatus = Literal["pass", "fail", "unknown"]
IdentityType = Literal["emailAddress", "nationalIdentityNumber"]
MAX_ITEMS = 10_000


class Identity(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The candidate's identity, to compare with the credential's salted hash."""

    type: IdentityType
    value: str


class VerificationItem(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Exactly one of `id`, `credential` (the full JSON) or `jwt` (VC-JOSE compact JWS)."""

    id: str | None = None
    credential: dict[str, Any] | None = None
    jwt: str | None = None
    identity: Identity | None = None


class VerificationRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 10,000 items. A malformed item gets its own problem in the
    answer; it never fails the other items."""

    items: Annotated[list[VerificationItem], msgspec.Meta(extra_json_schema={"maxItems": MAX_ITEMS})]


class Check(msgspec.Struct, omit_defaults=True, frozen=True):
    check: str
    status: CheckStatus
    reason: str
    detail: str = ""


class Summary(msgspec.Struct, omit_defaults=True):
    """What a person reading the answer wants to know about the credential."""

    title: str
    issuer: str
    achievement_type: str = ""
    eqf_level: int | None = None
    credits_ects: float | None = None
    hours: float | None = None
    skills: list[str] = []
    issued_on: str = ""


class ItemResult(msgspec.Struct, omit_defaults=True, kw_only=True):
    index: int
    id: str | None = None
    verdict: Verdict
    checks: list[Check] = []
    summary: Summary | None = None
    problem: ItemProblem | None = None


class VerificationResponse(msgspec.Struct):
    # The ledger position the read model had applied when it answered.
    as_of_position: int
    checked_at: str
    counts: dict[str, int]
    results: list[ItemResult]


# `failed`: the job kept failing (see `error`) and was given up so that the
# jobs behind it run; the lines answered before it failed stay available.
JobStatus = Literal["queued", "running", "completed", "failed"]


class JobCreated(msgspec.Struct):
    job_id: str
    status: JobStatus
    total: int
    links: dict[str, str]


class JobProgress(msgspec.Struct):
    job_id: str
    status: JobStatus
    total: int
    done: int
    created_at: str
    updated_at: str
    items_per_second: float | None
    eta_seconds: float | None
    counts: dict[str, int]
    links: dict[str, str]
    error: str | None = None
