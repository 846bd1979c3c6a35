"""The cascade rules: which credentials a ledger event revokes or flags.

Each rule turns one trigger event into status changes naming their cause;
the projection applies them in its own transaction. Rules read the read
model, which at that moment reflects the ledger exactly up to the trigger.

- A component of a stacked award revoked: the award is revoked or flagged
  for review, as its pathway's `on_component_revoked` says.
- An issuer key compromised as of T: that issuer's credentials signed with
  it and issued at or after T are revoked; earlier ones are untouched.
- An accreditation withdrawn with policy "revoke_issued_after": the
  issuer's credentials issued after that date are revoked.

- A recognition agreement revoked: awards with a component it admitted
  are flagged for review, or kept, as the agreement's `on_revoked` says.

A credential that reaches the ledger after its trigger (an issuance racing
a compromise or a withdrawal) is caught by `due_at_issuance`.
"""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg

from services.revocation.status_changes import QUERIES, StatusChange
from shared.events import recognition as rec
from shared.events import registry as reg
from shared.events.credentials import Cause, CredentialIssued, CredentialRevoked
from shared.registry_state import RegistryState
from shared.timeutil import format_time, parse_time

log = logging.getLogger(__name__)

DEFAULT_ON_COMPONENT_REVOKED = reg.PathwayRule().on_component_revoked


async def awards_containing(conn: asyncpg.Connection, component_id: str) -> list[asyncpg.Record]:
    """Stacked awards, not revoked yet, that have `component_id` among their components."""
    return await conn.fetch(QUERIES["awards_containing"], component_id)


def component_revoked(
    revoked: CredentialRevoked, awards: list[asyncpg.Record], registry: RegistryState
) -> list[StatusChange]:
    cause = Cause(kind="component_revoked", ref=revoked.credential_id)
    reason = f"component credential {revoked.credential_id} was revoked ({revoked.reason_code})"
    changes = []
    for award in awards:
        action = "revoke" if _on_component_revoked(award["pathway_id"], registry) == "revoke" else "flag"
        changes.append(StatusChange(award["credential_id"], action, reason, "component_revoked", cause))
    return changes


def _on_component_revoked(pathway_id: str | None, registry: RegistryState) -> str:
    pathway = registry.pathways.get(pathway_id or "")
    if pathway is None:
        # An award always names an approved pathway; if the registry does
        # not know it, a human should look rather than have it revoked.
        log.warning("stacked award without a known pathway; flagging it",
                    extra={"pathway_id": pathway_id})
        return DEFAULT_ON_COMPONENT_REVOKED
    return pathway.event.rule.on_component_revoked


async def key_compromised(conn: asyncpg.Connection, event: reg.IssuerKeyCompromised) -> list[StatusChange]:
    since = parse_time(event.compromised_at)
    rows = await conn.fetch(QUERIES["signed_with_key_since"], event.issuer_id, event.key_id, since)
    reason = f"signing key {event.key_id} was compromised as of {event.compromised_at}: {event.reason}"
    return [_key_change(row["credential_id"], event.key_id, reason) for row in rows]


def _key_change(credential_id: str, key_id: str, reason: str) -> StatusChange:
    return StatusChange(credential_id, "revoke", reason, "key_compromise",
                        Cause(kind="key_compromised", ref=key_id))


async def accreditation_withdrawn(
    conn: asyncpg.Connection, event: reg.AccreditationWithdrawn, registry: RegistryState
) -> list[StatusChange]:
    if event.credentials_policy != "revoke_issued_after" or event.revoke_issued_after is None:
        return []
    accreditation = registry.accreditations.get(event.accreditation_id)
    if accreditation is None or accreditation.subject_kind != "issuer":
        return []
    cutoff = parse_time(event.revoke_issued_after)
    rows = await conn.fetch(QUERIES["issued_after"], accreditation.subject_id, cutoff)
    return [_withdrawal_change(row["credential_id"], event) for row in rows]


def _withdrawal_change(credential_id: str, event: reg.AccreditationWithdrawn) -> StatusChange:
    reason = (f"accreditation {event.accreditation_id} was withdrawn ({event.reason}); "
              f"credentials issued after {event.revoke_issued_after} are revoked")
    return StatusChange(credential_id, "revoke", reason, "accreditation_withdrawn",
                        Cause(kind="accreditation_withdrawn", ref=event.accreditation_id))


async def recognition_revoked(
    conn: asyncpg.Connection, event: rec.RecognitionAgreementRevoked, registry: RegistryState
) -> list[StatusChange]:
    agreement = registry.recognitions.agreements.get(event.agreement_id)
    if agreement is None or agreement.event.on_revoked != "flag":
        return []
    reason = (f"recognition agreement {event.agreement_id}, which admitted a component, was revoked"
              f" ({event.reason})")
    cause = Cause(kind="recognition_revoked", ref=event.agreement_id)
    rows = await conn.fetch(QUERIES["awards_admitted_by"], event.agreement_id)
    return [StatusChange(row["credential_id"], "flag", reason, "recognition_revoked", cause) for row in rows]


def due_at_issuance(issued: CredentialIssued, registry: RegistryState) -> list[StatusChange]:
    """A credential that a compromise or withdrawal earlier in the ledger
    already covers is revoked as soon as it appears."""
    issued_at = parse_time(issued.issued_at)
    key = registry.key(issued.issuer_id, issued.key_id)
    if key is not None and key.compromised_at is not None and issued_at >= key.compromised_at:
        reason = f"signed with key {key.key_id}, compromised as of {format_time(key.compromised_at)}"
        return [_key_change(issued.credential_id, key.key_id, reason)]
    for accreditation in registry.accreditations_of(issued.issuer_id):
        withdrawal = accreditation.withdrawal
        if withdrawal is not None and _revokes_issued_at(withdrawal, issued_at):
            return [_withdrawal_change(issued.credential_id, withdrawal)]
    return []


def _revokes_issued_at(withdrawal: reg.AccreditationWithdrawn, issued_at: dt.datetime) -> bool:
    return (withdrawal.credentials_policy == "revoke_issued_after"
            and withdrawal.revoke_issued_after is not None
            and issued_at > parse_time(withdrawal.revoke_issued_after))
