"""Request and response bodies of the learner's credit account."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from services.issuance.schemas import Request

Token = Annotated[str, Meta(min_length=1, max_length=200)]
Id = Annotated[str, Meta(min_length=1, max_length=200)]


class LearnerProof(Request):
    """The learner, proven by the link token of any one of its credentials
    (what the wallet holds for it)."""

    credential_id: Id
    holder_token: Token


class ShareAccount(Request):
    credential_id: Id
    holder_token: Token
    issuer_id: Id
    valid_days: Annotated[int, Meta(ge=1, le=3650)] = 90


class Redemption(msgspec.Struct, kw_only=True):
    credit_pool: str
    pathway_id: str
    award_credential_id: str
    agreement_id: str | None
    credits: float


class LevelRef(msgspec.Struct, kw_only=True):
    framework_id: str
    level_code: str


class CreditEntry(msgspec.Struct, kw_only=True):
    credential_id: str
    issuer_id: str
    achievement_id: str
    title: str
    eqf_level: int
    # The national framework level, when the achievement states one.
    level: LevelRef | None
    field: str  # ISCED-F 2013
    ects: float
    hours: float | None
    issued_at: str
    # When its credits stop counting (null: they do not expire).
    expires_at: str | None
    status: str
    # An award made by stacking, of this pathway.
    award_of_pathway: str | None
    # Active and unexpired now.
    counting: bool
    redeemed: list[Redemption]


class CreditAccount(msgspec.Struct, kw_only=True):
    as_of: str
    entries: list[CreditEntry]
    # ECTS of the entries that count now, and of those also not yet redeemed.
    credits_counting: float
    credits_unredeemed: float


class AccountShared(msgspec.Struct, kw_only=True):
    grant_id: str
    issuer_id: str
    valid_until: str
    position: int
