"""Credits redeemed by awards: each component's credits count toward at most
one award of a credit pool (the pathway's `credit_pool`, by default the
pathway itself).

The guard is the table's primary key (component, pool), taken in the award's
transaction: two claims racing for one credit both insert, the second
waits for the first to commit and gets no row back, and its whole award
rolls back with a refusal. Reading first is only for the clearer message.
A revoked award gives its credits back (the lifecycle projection).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.issuance.stacking import Evaluation, credit_pool
from services.issuance.store import QUERIES, Executor
from shared.events.credentials import Admission
from shared.refusals import Conflict


def admissions(evaluation: Evaluation) -> list[Admission]:
    """How each counted component was admitted, and the credits it brings."""
    found = []
    for achievement_id, row in sorted(evaluation.held.items(), key=lambda item: item[1].credential_id):
        admitted = evaluation.admitted.get(row.credential_id)
        found.append(Admission(component_id=row.credential_id,
                               agreement_id=admitted.agreement.agreement_id if admitted else None,
                               credits=evaluation.component_credits.get(achievement_id, 0.0)))
    return found


async def redeemed(db: Executor, pool: str, credential_ids: Sequence[str]) -> dict[str, str]:
    """credential id -> the award whose redemption in `pool` holds it."""
    rows = await db.fetch(QUERIES["redeemed_in_pool"], pool, list(credential_ids))
    return {r["credential_id"]: r["award_credential_id"] for r in rows}


def refuse_redeemed(taken: dict[str, str], pool: str) -> None:
    if taken:
        listed = ", ".join(f"{cid} (award {award})" for cid, award in sorted(taken.items()))
        raise Conflict(f"the credits of {listed} were already redeemed in credit pool {pool!r};"
                       " a credit counts toward one award of a pool", code="credit-already-redeemed",
                       title="A credit was already redeemed")


async def redeem(conn: asyncpg.Connection, evaluation: Evaluation, found: list[Admission], stack_id: str,
                 award_credential_id: str) -> None:
    pool = credit_pool(evaluation.pathway)
    ids = [a.component_id for a in found]
    inserted = await conn.fetch(QUERIES["redeem_credits"], ids, pool, award_credential_id, stack_id,
                                evaluation.pathway.event.pathway_id, [a.agreement_id for a in found],
                                [a.credits for a in found])
    taken = set(ids) - {r["credential_id"] for r in inserted}
    if taken:
        holders = await redeemed(conn, pool, sorted(taken))
        refuse_redeemed({cid: holders.get(cid, "another") for cid in taken}, pool)


async def release(conn: asyncpg.Connection, award_credential_id: str) -> None:
    await conn.execute(QUERIES["release_redemptions"], award_credential_id)
