"""Issued credentials for tests and benchmarks of services other than
issuance: a minimal signed Open Badges 3.0 credential with real status
entries from the allocator, appended as a `CredentialIssued` event the way
issuance appends it (allocation and event in one transaction), without the
issuance HTTP API. Also: the relay run in-process, and polling helpers."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.issuance.status_entries import allocate
from shared.auth import token_hash
from shared.credential_format import (
    OB_CONTEXT,
    VC_CONTEXT,
    document_hash,
    identity_hash,
    new_credential_id,
    status_list_url,
    verification_method,
)
from shared.crypto import eddsa_jcs
from shared.crypto.jcs import canonicalize
from shared.events import CATALOG
from shared.events.credentials import CredentialIssued, StatusEntry, credential_stream
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, Ledger, NewEvent
from shared.settings import Settings
from shared.timeutil import format_time, now
from tests.support.waiting import eventually, running_relay  # noqa: F401 - re-exported for tests
from tests.support.world import Issuer

T = TypeVar("T")


@dataclass(frozen=True)
class IssuedCredential:
    credential_id: str
    issuer_id: str
    status: list[StatusEntry]
    document: dict[str, Any]
    position: int

    def entry(self, purpose: str) -> StatusEntry:
        return next(e for e in self.status if e.purpose == purpose)


async def issue_credentials(
    pool: asyncpg.Pool, settings: Settings, issuer: Issuer, achievement_id: str, count: int = 1, *,
    issued_at: str | None = None, key_id: str | None = None, private_key: Ed25519PrivateKey | None = None,
    pathway_id: str | None = None, components: Sequence[str] = (), holder_token: str = "",
) -> list[IssuedCredential]:
    issued_at = issued_at or format_time(now())
    key_id = key_id or issuer.key_id
    private_key = private_key or issuer.private_key
    async with pool.acquire() as conn, conn.transaction():
        revocation = await allocate(conn, issuer.issuer_id, "revocation", count)
        suspension = await allocate(conn, issuer.issuer_id, "suspension", count)
        credentials = [
            _signed_credential(settings, issuer, achievement_id, issued_at, key_id, private_key, [r, s])
            for r, s in zip(revocation, suspension, strict=True)
        ]
        events = [
            CredentialIssued(
                credential_id=doc["id"], issuer_id=issuer.issuer_id, achievement_id=achievement_id,
                key_id=key_id, learner_hash=doc["credentialSubject"]["identifier"][0]["identityHash"],
                issued_at=issued_at, valid_from=issued_at, status=entries, pathway_id=pathway_id,
                components=list(components), document_hash=document_hash(raw), document=msgspec.Raw(raw),
                holder_token_hash=token_hash(holder_token) if holder_token else "",
            )
            for doc, raw, entries in credentials
        ]
        streams = [credential_stream(e.credential_id) for e in events]
        positions = await Ledger(pool, CATALOG).append_in(
            conn, [NewEvent(s, e) for s, e in zip(streams, events, strict=True)],
            Metadata(actor=f"issuance-test:{issuer.issuer_id}", tenant=issuer.issuer_id),
            dict.fromkeys(streams, NO_STREAM),
        )
    return [IssuedCredential(e.credential_id, issuer.issuer_id, e.status, doc, p)
            for e, (doc, _, _), p in zip(events, credentials, positions, strict=True)]


def _signed_credential(
    settings: Settings, issuer: Issuer, achievement_id: str, issued_at: str, key_id: str,
    private_key: Ed25519PrivateKey, entries: list[StatusEntry],
) -> tuple[dict[str, Any], bytes, list[StatusEntry]]:
    credential_id = new_credential_id()
    salt = secrets.token_hex(8)
    document = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": f"University {issuer.issuer_id}"},
        "validFrom": issued_at,
        "name": "Data Analysis with Python",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject", "identityType": "emailAddress", "hashed": True, "salt": salt,
                "identityHash": identity_hash("emailAddress", f"{credential_id[-12:]}@learners.example", salt),
            }],
            "achievement": {
                "id": f"{settings.public_base_url}/achievements/{achievement_id}", "type": ["Achievement"],
                "name": "Data Analysis with Python", "description": "Analyse tabular data with pandas.",
                "criteria": {"narrative": "Pass a supervised practical assessment."},
            },
        },
        "credentialStatus": [_status_entry(settings, e) for e in entries],
    }
    signed = eddsa_jcs.sign(document, private_key, verification_method(issuer.did, key_id), issued_at)
    return signed, canonicalize(signed), entries


def _status_entry(settings: Settings, entry: StatusEntry) -> dict[str, str]:
    url = status_list_url(settings.public_base_url, entry.list_id)
    return {"id": f"{url}#{entry.index}", "type": "BitstringStatusListEntry", "statusPurpose": entry.purpose,
            "statusListIndex": str(entry.index), "statusListCredential": url}


async def projected(pool: asyncpg.Pool, projection: str, position: int, timeout: float = 10.0) -> None:
    """Wait until a durable projection has applied `position`."""
    async def reached() -> bool | None:
        applied = await pool.fetchval(
            "SELECT position FROM ledger.projection_progress WHERE projection = $1", projection)
        return True if (applied or 0) >= position else None

    await eventually(reached, timeout)
