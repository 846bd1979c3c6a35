"""The status table: which action applies where, and the fold of a stream."""

from __future__ import annotations

import pytest

from shared.credential_status import (
    ACTION_OF_EVENT,
    EVENT_NAMES,
    LABELS,
    PAST_TENSE,
    STANDING,
    STATUSES,
    TRANSITIONS,
    fold,
    next_status,
)
from shared.events.credentials import (
    CredentialFlaggedForReview,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
)

ISSUED, REVOKED, SUSPENDED = (CredentialIssued.event_type, CredentialRevoked.event_type,
                              CredentialSuspended.event_type)
REINSTATED, FLAGGED = CredentialReinstated.event_type, CredentialFlaggedForReview.event_type


def test_revocation_is_final() -> None:
    for action in TRANSITIONS:
        assert next_status(action, "revoked") is None


@pytest.mark.parametrize(("action", "current", "expected"), [
    ("revoke", "active", "revoked"), ("revoke", "suspended", "revoked"), ("revoke", "flagged", "revoked"),
    ("suspend", "active", "suspended"), ("suspend", "flagged", "suspended"), ("suspend", "suspended", None),
    ("reinstate", "suspended", "active"), ("reinstate", "flagged", "active"), ("reinstate", "active", None),
    ("flag", "active", "flagged"), ("flag", "flagged", "flagged"), ("flag", "suspended", "suspended"),
])
def test_each_action_in_each_status(action, current, expected) -> None:
    assert next_status(action, current) == expected


def test_every_status_event_names_an_action() -> None:
    assert set(ACTION_OF_EVENT.values()) == set(TRANSITIONS)


def test_fold_follows_the_stream() -> None:
    assert fold([]) is None
    assert fold([ISSUED]) == "active"
    assert fold([ISSUED, SUSPENDED]) == "suspended"
    assert fold([ISSUED, SUSPENDED, REINSTATED]) == "active"
    assert fold([ISSUED, FLAGGED, REVOKED]) == "revoked"


def test_fold_keeps_the_status_on_an_action_that_could_not_apply() -> None:
    # Only a foreign writer could append these; the safe reading ignores them.
    assert fold([ISSUED, REVOKED, REINSTATED]) == "revoked"
    assert fold([ISSUED, REINSTATED]) == "active"
    assert fold([SUSPENDED, ISSUED]) == "active"


def test_every_state_has_a_label_and_every_action_its_words() -> None:
    assert set(LABELS) == set(STATUSES) and LABELS["flagged"] == "flagged_for_review"
    assert set(PAST_TENSE) == set(EVENT_NAMES) == set(TRANSITIONS)
    assert set(STATUSES) >= STANDING

