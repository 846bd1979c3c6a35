"""Why a status change was refused, in the platform's refusal vocabulary.

One wording for every way in: the HTTP handlers and the Kafka intake
(services/intake) both answer a refused change with these refusals, each in
its own form (a problem response, an outcome record).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.revocation.status_changes import Outcome
from shared.credential_status import PAST_TENSE, Action, Status
from shared.refusals import Conflict, Invalid, NotFound, Refusal


def refusal_of(outcome: Outcome) -> Refusal:
    cid, action = outcome.change.credential_id, outcome.change.action
    if outcome.rejection == "unknown":
        return NotFound(f"there is no credential {cid} that this client may manage")
    current = outcome.status
    assert current is not None
    return Conflict(f"credential {cid} cannot be {PAST_TENSE[action]}: {_why_not(action, current)}",
                    extra={"credential_id": cid, "current_status": current})


def _why_not(action: Action, current: Status) -> str:
    if current == "revoked":
        return "it is revoked, and revocation is final"
    if action == "reinstate":
        return f"it is {current}; only a suspended or flagged credential can be reinstated"
    return f"it is already {current}"


def require_reasons(reasons: Sequence[str]) -> None:
    blank = [i for i, reason in enumerate(reasons) if not reason.strip()]
    if blank:
        raise Invalid(
            "a reason is required: say in words why the status changes",
            extra={"errors": [{"detail": "reason is blank", "index": i} for i in blank]},
        )
