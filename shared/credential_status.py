"""A credential's status: its states, the actions that change them, the fold
over its ledger stream, and the words for each.

One table says which action applies in which status and what it leads to.
Revocation decides and records changes by it (commands, cascades, its read
model and the status history); issuance keeps `issuance.credentials.status`
by it; verification answers with its labels. A credential's status is always
the fold of its ledger stream through the table, and the status columns'
CHECK constraints hold exactly `STATUSES` (tests/integration/
test_credential_status_checks.py compares them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from shared.events.credentials import (
    CredentialFlaggedForReview,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
)

Status = Literal["active", "revoked", "suspended", "flagged"]
Action = Literal["revoke", "suspend", "reinstate", "flag"]
# In this order: verification packs a status as its index here.
STATUSES: tuple[Status, ...] = ("active", "revoked", "suspended", "flagged")

# Revocation is final. A flag marks a stacked award for review without
# changing what verifiers see; a review that clears it reinstates. Flagging a
# flagged or suspended award records another cause and keeps the status.
TRANSITIONS: dict[Action, dict[Status, Status]] = {
    "revoke": {"active": "revoked", "suspended": "revoked", "flagged": "revoked"},
    "suspend": {"active": "suspended", "flagged": "suspended"},
    "reinstate": {"suspended": "active", "flagged": "active"},
    "flag": {"active": "flagged", "flagged": "flagged", "suspended": "suspended"},
}

ACTION_OF_EVENT: dict[str, Action] = {
    CredentialRevoked.event_type: "revoke",
    CredentialSuspended.event_type: "suspend",
    CredentialReinstated.event_type: "reinstate",
    CredentialFlaggedForReview.event_type: "flag",
}


# A flag changes nothing until a review decides: the credential still counts
# (towards a stack, for instance).
STANDING: frozenset[Status] = frozenset({"active", "flagged"})
# The status as verifiers and the status history name it.
LABELS: dict[Status, str] = {"active": "active", "revoked": "revoked", "suspended": "suspended",
                             "flagged": "flagged_for_review"}
# What an action does, in a sentence ("cannot be revoked"), and as the name
# of its entry in a status history.
PAST_TENSE: dict[Action, str] = {"revoke": "revoked", "suspend": "suspended", "reinstate": "reinstated",
                                 "flag": "flagged"}
EVENT_NAMES: dict[Action, str] = {**PAST_TENSE, "flag": "flagged_for_review"}


def next_status(action: Action, current: Status) -> Status | None:
    """The status after `action`, or None when the action does not apply."""
    return TRANSITIONS[action].get(current)


def after_event(status: Status, event_type: str) -> Status:
    """The status after one recorded event of the credential's stream.

    The ledger only holds actions that applied; keeping the status on one
    that did not is the safe reading of a foreign writer."""
    action = ACTION_OF_EVENT.get(event_type)
    return status if action is None else next_status(action, status) or status


def fold(event_types: Iterable[str]) -> Status | None:
    """The status a credential stream's events lead to; None before issuance."""
    status: Status | None = None
    for event_type in event_types:
        if event_type == CredentialIssued.event_type:
            status = "active"
        elif status is not None:
            status = after_event(status, event_type)
    return status
