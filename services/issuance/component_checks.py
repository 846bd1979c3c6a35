"""Each component of a claimed award is checked the way an employer's
verification checks a credential, before the award is decided: the signed
document in the ledger is the one recorded (its hash), every proof of its
set verifies with the issuer's key, that key was valid and not compromised
when it signed, the issuer was accredited for the achievement then, and the
credential is active and unexpired now. A component of another issuer is
thus accepted on the evidence a verifier would see, not on a table row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import msgspec

from services.issuance import store
from services.issuance.context import IssuanceContext
from services.issuance.store import CredentialRow
from shared.crypto import proof_set
from shared.events.credentials import CredentialIssued
from shared.jsonld.contexts import ContextLoader
from shared.refusals import Invalid
from shared.timeutil import parse_time


def _signature_problem(ctx: IssuanceContext, issued: CredentialIssued, loader: ContextLoader) -> str | None:
    document = bytes(issued.document)
    if hashlib.sha256(document).hexdigest() != issued.document_hash:
        return "its recorded document does not match its hash"
    key = ctx.state.key(issued.issuer_id, issued.key_id)
    if key is None:
        return f"{issued.issuer_id} has no key {issued.key_id}"
    problem = key.problem_at(parse_time(issued.issued_at))
    if problem is not None:
        return f"its signing key {issued.key_id}: {problem.replace('_', ' ')}"
    if not proof_set.verify(msgspec.json.decode(document), key.public_key, loader):
        return "its signature does not verify"
    return None


def _accreditation_problem(ctx: IssuanceContext, issued: CredentialIssued) -> str | None:
    achievement = ctx.state.achievements.get(issued.achievement_id)
    if achievement is None:
        return f"the registry does not know its achievement {issued.achievement_id}"
    spec, issued_at = achievement.spec, parse_time(issued.issued_at)
    if ctx.state.accreditation_for(issued.issuer_id, issued_at, spec.eqf_level, spec.field) is None:
        return f"{issued.issuer_id} was not accredited for EQF {spec.eqf_level} in field {spec.field} when it issued it"
    return None


async def verify_components(ctx: IssuanceContext, rows: list[CredentialRow], moment: dt.datetime) -> None:
    """Refuses (component-not-verified) the first component that would not verify `valid`."""
    loader = ContextLoader(ctx.public_base_url)
    for row in rows:
        found = await store.issued_event(ctx.pool, row.credential_id)
        if found is None:
            problem: str | None = "it is not in the ledger"
        elif row.status != "active":
            problem = f"it is {row.status}"
        elif row.valid_until is not None and row.valid_until <= moment:
            problem = "it has expired"
        else:
            issued = found[1]
            # RDFC canonicalisation is CPU work: off the event loop.
            problem = await asyncio.to_thread(_signature_problem, ctx, issued, loader) \
                or _accreditation_problem(ctx, issued)
        if problem is not None:
            raise Invalid(f"credential {row.credential_id} does not verify: {problem}",
                          code="component-not-verified", title="A component does not verify")
