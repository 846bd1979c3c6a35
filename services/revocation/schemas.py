"""Request and response bodies of the revocation API (documented in /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from shared.credential_status import Status
from shared.events.credentials import ReasonCode, StatusPurpose
from shared.http.problem import ItemProblem

MAX_BATCH_ITEMS = 10_000

Reason = Annotated[str, msgspec.Meta(
    min_length=1, max_length=500,
    description="Why the status changes, for the people who read the credential's history",
)]
ManualAction = Literal["revoke", "suspend", "reinstate"]


class StatusChangeRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason_code: ReasonCode
    reason: Reason


class StatusChanged(msgspec.Struct, kw_only=True):
    credential_id: str
    action: ManualAction
    previous_status: Status
    status: Status
    position: int  # the ledger position of the status change event


class BatchItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    credential_id: str
    action: ManualAction = "revoke"
    reason_code: ReasonCode
    reason: Reason


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    items: Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]


class BatchItemResult(msgspec.Struct, omit_defaults=True, kw_only=True):
    index: int  # the item's place in the request
    credential_id: str
    action: ManualAction
    outcome: Literal["applied", "rejected"]
    previous_status: Status | None = None
    status: Status | None = None
    position: int | None = None
    problem: ItemProblem | None = None


class BatchResult(msgspec.Struct, kw_only=True):
    applied: int
    rejected: int
    positions: list[int]  # every ledger position this request produced
    results: list[BatchItemResult]


class StatusListEntry(msgspec.Struct, kw_only=True):
    """One entry of a published list, read from the published document."""

    list_id: str
    status_list_credential: str
    purpose: StatusPurpose
    index: int
    set: bool
    valid_from: str
