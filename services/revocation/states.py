"""A credential's status and the actions that change it.

One table says which action applies in which status and what it leads to.
The HTTP commands, the cascades and the read model all use it, and a
credential's status is always the fold of its ledger stream through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from shared.events.credentials import (
    CredentialFlaggedForReview, CredentialIssued, CredentialReinstated, CredentialRevoked,
    CredentialSuspended,
)

Status = Literal["active", "revoked", "suspended", "flagged"]
Action = Literal["revoke", "suspend", "reinstate", "flag"]

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


def next_status(action: Action, current: Status) -> Status | None:
    """The status after `action`, or None when the action does not apply."""
    return TRANSITIONS[action].get(current)


def fold(event_types: Iterable[str]) -> Status | None:
    """The status a credential stream's events lead to; None before issuance."""
    status: Status | None = None
    for event_type in event_types:
        if event_type == CredentialIssued.event_type:
            status = "active"
        elif status is not None and event_type in ACTION_OF_EVENT:
            # The ledger only holds actions that applied; keeping the status
            # on one that did not is the safe reading of a foreign writer.
            status = next_status(ACTION_OF_EVENT[event_type], status) or status
    return status
