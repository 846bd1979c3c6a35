"""A learner's credit account: every credential of the learner (its
internal learner key, so across issuers) with its level, field, credits,
validity and redemptions.

Credits past their credential's validity stop counting (`counting` is
false) and each entry says when it expires. The learner reads its account
by proving itself with the link token of any one of its credentials (what
the wallet holds); it may authorise an issuer to read it (a grant, a ledger
event naming the issuer but not the learner), for a number of days, and
revoke that again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from services.issuance import credit_schemas as cs
from services.issuance import store
from services.issuance.context import IssuanceContext
from services.issuance.store import QUERIES, CredentialRow
from shared.auth import Principal, token_matches
from shared.credential_format import required_credential_id
from shared.events.credits import CreditAccountShared, CreditAccountShareRevoked
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, NotFound
from shared.timeutil import format_time, now

log = logging.getLogger(__name__)


async def learner_of(ctx: IssuanceContext, proof: cs.LearnerProof | cs.ShareAccount) -> str:
    """The learner key the proof stands for; the same refusal whether the credential or the token is wrong."""
    credential_id = required_credential_id(proof.credential_id)
    row = await store.credential(ctx.pool, credential_id)
    if row is None or not token_matches(proof.holder_token, row.holder_token_hash):
        raise Forbidden("holder_token is not the learner link of that credential")
    return row.learner_key


async def account(ctx: IssuanceContext, learner_key: str) -> cs.CreditAccount:
    moment = now()
    rows = await store.credentials_of_learner(ctx.pool, learner_key)
    redemptions: dict[str, list[cs.Redemption]] = {}
    for r in await ctx.pool.fetch(QUERIES["redemptions_of"], [row.credential_id for row in rows]):
        redemptions.setdefault(r["credential_id"], []).append(cs.Redemption(
            credit_pool=r["credit_pool"], pathway_id=r["pathway_id"], award_credential_id=r["award_credential_id"],
            agreement_id=r["agreement_id"], credits=r["credits"]))
    entries = [entry for row in sorted(rows, key=lambda r: (r.valid_from, r.credential_id))
               if (entry := _entry(ctx, row, redemptions.get(row.credential_id, []), moment)) is not None]
    counting = [e for e in entries if e.counting]
    return cs.CreditAccount(
        as_of=format_time(moment), entries=entries, credits_counting=sum(e.ects for e in counting),
        credits_unredeemed=sum(e.ects for e in counting if not e.redeemed))


def _entry(ctx: IssuanceContext, row: CredentialRow, redeemed: list[cs.Redemption],
           moment: dt.datetime) -> cs.CreditEntry | None:
    achievement = ctx.state.achievements.get(row.achievement_id)
    if achievement is None:
        return None
    spec = achievement.spec
    expired = row.valid_until is not None and row.valid_until <= moment
    return cs.CreditEntry(
        credential_id=row.credential_id, issuer_id=row.issuer_id, achievement_id=row.achievement_id,
        title=spec.title, eqf_level=spec.eqf_level,
        level=cs.LevelRef(framework_id=spec.framework_id, level_code=spec.level_code)
        if spec.framework_id and spec.level_code else None,
        field=spec.field, ects=spec.workload.ects or 0.0, hours=spec.workload.hours,
        issued_at=format_time(row.valid_from), expires_at=format_time(row.valid_until) if row.valid_until else None,
        status=row.status, award_of_pathway=row.pathway_id, counting=row.status == "active" and not expired,
        redeemed=redeemed,
    )


async def share(ctx: IssuanceContext, request: cs.ShareAccount, request_id: str) -> cs.AccountShared:
    learner_key = await learner_of(ctx, request)
    if request.issuer_id not in ctx.state.issuers:
        raise NotFound(f"there is no issuer {request.issuer_id!r}")
    grant_id = f"cg-{uuid.uuid4().hex}"
    valid_until = now().replace(microsecond=0) + dt.timedelta(days=request.valid_days)
    event = CreditAccountShared(grant_id=grant_id, issuer_id=request.issuer_id, valid_until=format_time(valid_until))
    stream = f"credit-grant:{grant_id}"
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute(QUERIES["insert_credit_grant"], grant_id, learner_key, request.issuer_id, valid_until)
        [position] = await ctx.ledger.append_in(conn, [NewEvent(stream, event)], _holder(request.issuer_id, request_id),
                                                {stream: NO_STREAM})
    log.info("credit account shared", extra={"grant_id": grant_id, "issuer_id": request.issuer_id,
                                             "position": position})
    return cs.AccountShared(grant_id=grant_id, issuer_id=request.issuer_id, valid_until=event.valid_until,
                            position=position)


async def unshare(ctx: IssuanceContext, grant_id: str, proof: cs.LearnerProof, request_id: str) -> None:
    learner_key = await learner_of(ctx, proof)
    grant = await ctx.pool.fetchrow(QUERIES["credit_grant"], grant_id)
    if grant is None or grant["learner_key"] != learner_key:
        raise NotFound(f"this learner gave no grant {grant_id!r}")
    stream = f"credit-grant:{grant_id}"
    async with ctx.pool.acquire() as conn, conn.transaction():
        if await conn.execute(QUERIES["revoke_credit_grant"], grant_id) == "UPDATE 0":
            raise Conflict(f"grant {grant_id!r} was already revoked")
        await ctx.ledger.append_in(conn, [NewEvent(stream, CreditAccountShareRevoked(grant_id=grant_id))],
                                   _holder(grant["issuer_id"], request_id), {stream: 1})


async def granted_account(ctx: IssuanceContext, principal: Principal, grant_id: str) -> cs.CreditAccount:
    grant = await ctx.pool.fetchrow(QUERIES["credit_grant"], grant_id)
    if grant is None or grant["issuer_id"] != principal.tenant_id:
        raise NotFound(f"no learner gave {principal.tenant_id} a grant {grant_id!r}")
    if grant["revoked_at"] is not None or grant["valid_until"] <= now():
        raise Forbidden(f"grant {grant_id!r} was revoked or has expired; ask the learner for a new one",
                        code="grant-not-in-force", title="The learner's authorisation is not in force")
    return await account(ctx, grant["learner_key"])


def _holder(tenant: str, request_id: str) -> Metadata:
    return Metadata(actor="holder", tenant=tenant, request_id=request_id)
