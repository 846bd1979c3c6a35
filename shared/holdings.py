"""The internal API between issuance and the services that show people their
credentials (the wallet): its message types and its service authentication.

Issuance owns credentials, learner keys and learner contact addresses; the
wallet asks it, over HTTP on the internal network, instead of reading its
tables. The gateway never routes `/internal/` (its default is 404), and each
call carries a token only holders of the master key can make, naming the
calling service: `X-Credledger-Service: wallet <token>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec

SERVICE_HEADER = "X-Credledger-Service"
HOLDINGS_PATH = "/internal/v1/holdings"
CLAIM_PATH = "/internal/v1/credentials/{credential_id}/claim"
# Public (the learner proves itself with a link token), not internal.
CREDIT_ACCOUNT_PATH = "/v1/credit-account"
# The learner claims a pathway award itself (a component's link token proves it).
STACKS_PATH = "/v1/stacks"


def service_token(master_key_b64: str, caller: str) -> str:
    master = base64.b64decode(master_key_b64)
    digest = hmac.new(master, f"credledger/internal-api/v1\n{caller}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def service_headers(master_key_b64: str, caller: str) -> dict[str, str]:
    return {SERVICE_HEADER: f"{caller} {service_token(master_key_b64, caller)}"}


def calling_service(header: str | None, master_key_b64: str) -> str | None:
    """The service a request's header proves it comes from, or None."""
    caller, _, token = (header or "").partition(" ")
    if not caller or not token:
        return None
    return caller if hmac.compare_digest(token.encode(), service_token(master_key_b64, caller).encode()) else None


class HoldingsRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: str


class HeldCredential(msgspec.Struct, frozen=True, kw_only=True):
    credential_id: str
    issuer_id: str
    issuer_name: str
    achievement_id: str
    title: str
    description: str = ""
    eqf_level: int | None = None
    ects: float | None = None
    valid_from: str
    valid_until: str | None = None
    status: str  # active, suspended, revoked
    # The learner link token: what the learner downloads with. Only ever in
    # this internal answer, to the signed-in learner's wallet.
    holder_token: str
    # Set for an award made by stacking: its pathway.
    pathway_id: str | None = None


class HeldComponent(msgspec.Struct, frozen=True, kw_only=True):
    achievement_id: str
    title: str
    credential_id: str | None = None  # the credential that counts, when held


class ChoiceView(msgspec.Struct, frozen=True, kw_only=True):
    k: int
    options: list[HeldComponent]


class PathwayView(msgspec.Struct, frozen=True, kw_only=True):
    pathway_id: str
    title: str
    issuer_name: str
    award_title: str
    required: list[HeldComponent]
    choices: list[ChoiceView] = []
    credits_held: float
    credits_required: float
    credits_needed: float
    eligible: bool
    awarded_credential_id: str | None = None


class Holdings(msgspec.Struct, frozen=True, kw_only=True):
    credentials: list[HeldCredential]
    pathways: list[PathwayView]


class ClaimDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What a claim email needs: where to send it, and what it announces."""

    email: str | None  # None when the learner was identified by another means
    title: str
    issuer_name: str


# The learner's credit account (issuance's /v1/credit-account answers it; the
# wallet shows it).

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
