"""Request and response bodies of the learner's credit account."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from services.issuance.schemas import Request

# The answers are the issuance <-> wallet contract's (shared/holdings.py), re-exported here.
from shared.holdings import CreditAccount as CreditAccount
from shared.holdings import CreditEntry as CreditEntry
from shared.holdings import LevelRef as LevelRef
from shared.holdings import Redemption as Redemption

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


class AccountShared(msgspec.Struct, kw_only=True):
    grant_id: str
    issuer_id: str
    valid_until: str
    position: int
