"""A refusal decided from the read model must not be the read model's lag.

Issuance decides from its in-memory registry state and lifecycle tables, a
projection that follows the ledger a few milliseconds behind (seconds after
a restart or an outage). A refusal from it (issuer unknown, achievement not
yet approved, key not yet added, component not yet recorded) may only mean
the projection has not applied what the registry already wrote. So before a
refusal leaves the service, the projection must have applied the ledger
head as it stands now; if it had not when it decided, the request is
decided again once it has, and if it cannot catch up within a few seconds
the client gets 503 with Retry-After (a retry is safe: issuance is
idempotent by Idempotency-Key and reference) instead of a wrong refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.issuance.context import IssuanceContext
from shared.refusals import Refusal, Unavailable

T = TypeVar("T")
CATCH_UP_SECONDS = 5.0
# Refusals that depend on state: malformed or too large input never does.
STATE_REFUSALS = frozenset({"forbidden", "not_found", "conflict", "invalid"})


def applied_position(ctx: IssuanceContext) -> int:
    return min((runner.position for runner in ctx.runners), default=0)


async def refusals_stand(ctx: IssuanceContext, decided_at: int) -> bool:
    """True when the read model, at `decided_at`, had applied the whole ledger;
    False when it was behind and has now caught up (decide again)."""
    head = await ctx.ledger.head_position()
    if head <= decided_at:
        return True
    for runner in ctx.runners:
        if not await runner.reached(head, CATCH_UP_SECONDS):
            raise Unavailable(f"the service's registry view is behind the ledger (at {runner.position}"
                              f" of {head}); retry shortly",
                              code="service-unavailable", title="Service temporarily unavailable")
    return False


async def decided_current(ctx: IssuanceContext, decide: Callable[[], Awaitable[T]]) -> T:
    """`decide()`, again if it refused from a read model that was behind."""
    decided_at = applied_position(ctx)
    try:
        return await decide()
    except Refusal as refusal:
        if refusal.kind not in STATE_REFUSALS or await refusals_stand(ctx, decided_at):
            raise
    return await decide()
