"""Issued credentials for the verification tests, written the way issuance
writes them: a signed Open Badges 3.0 credential (VC 2.0, eddsa-jcs-2022)
embedded in a `CredentialIssued` ledger event; and status changes as the
revocation service's events."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shared.credential_format import (
    OB_CONTEXT,
    VC_CONTEXT,
    document_hash,
    identity_hash,
    new_credential_id,
    status_list_url,
)
from shared.crypto import eddsa_jcs, jcs, jws
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support.waiting import eventually, running_relay  # noqa: F401 - re-exported for tests
from tests.support.world import Issuer

relay_running = running_relay

ISSUED_AT = "2025-06-01T10:00:00Z"


@dataclass
class Issued:
    credential_id: str
    document: dict[str, Any]
    event: cev.CredentialIssued
    positions: list[int] = field(default_factory=list)

    def jwt(self, issuer: Issuer) -> str:
        unsecured = {k: v for k, v in self.document.items() if k != "proof"}
        return jws.encode_vc_jws(unsecured, issuer.private_key, f"{issuer.did}#{issuer.key_id}")


def build_document(issuer: Issuer, achievement_id: str, *, email: str, salt: str, credential_id: str,
                   valid_from: str = ISSUED_AT, valid_until: str | None = None, title: str = "Data Analysis with Python",
                   status_index: int = 7, base_url: str = "http://127.0.0.1:8080") -> dict[str, Any]:
    list_url = status_list_url(base_url, f"{issuer.issuer_id}.revocation.test")
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": f"University {issuer.issuer_id}"},
        "validFrom": valid_from,
        "name": title,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": identity_hash("emailAddress", email, salt),
                            "identityType": "emailAddress", "hashed": True, "salt": salt}],
            "achievement": {"id": f"{base_url}/achievements/{achievement_id}", "type": ["Achievement"],
                            "name": title, "criteria": {"narrative": "Pass the assessment."}},
        },
        "credentialStatus": [{"id": f"{list_url}#{status_index}", "type": "BitstringStatusListEntry",
                              "statusPurpose": "revocation", "statusListIndex": str(status_index),
                              "statusListCredential": list_url}],
    }
    if valid_until:
        document["validUntil"] = valid_until
    return document


def sign(issuer: Issuer, document: dict[str, Any], created: str = ISSUED_AT) -> dict[str, Any]:
    return eddsa_jcs.sign(document, issuer.private_key, f"{issuer.did}#{issuer.key_id}", created)


def issued_event(issuer: Issuer, achievement_id: str, signed: dict[str, Any], *, issued_at: str = ISSUED_AT,
                 components: list[str] | None = None) -> cev.CredentialIssued:
    canonical = jcs.canonicalize(signed)
    identity = signed["credentialSubject"]["identifier"][0]
    return cev.CredentialIssued(
        credential_id=signed["id"], issuer_id=issuer.issuer_id, achievement_id=achievement_id,
        key_id=issuer.key_id, learner_hash=identity["identityHash"], issued_at=issued_at,
        valid_from=signed["validFrom"], valid_until=signed.get("validUntil"),
        components=components or [], document_hash=document_hash(canonical), document=msgspec.Raw(canonical),
    )


async def issue(ledger: Ledger, issuer: Issuer, achievement_id: str, *, email: str = "ada@example.org",
                components: list[str] | None = None, **document: Any) -> Issued:
    credential_id = document.pop("credential_id", None) or new_credential_id()
    signed = sign(issuer, build_document(issuer, achievement_id, email=email, salt=secrets.token_hex(16),
                                         credential_id=credential_id, **document))
    event = issued_event(issuer, achievement_id, signed, components=components)
    positions = await ledger.append([NewEvent(cev.credential_stream(credential_id), event)], _metadata(issuer))
    return Issued(credential_id, signed, event, positions)


async def change_status(ledger: Ledger, issuer: Issuer, credential_id: str, event_class: type, **fields: Any) -> int:
    fields.setdefault("reason_code", "issued_in_error")
    fields.setdefault("reason", "recorded against the wrong learner")
    if event_class is cev.CredentialFlaggedForReview:
        fields.pop("reason_code")
        fields.setdefault("cause", cev.Cause(kind="component_revoked", ref="test"))
    event = event_class(credential_id=credential_id, **fields)
    positions = await ledger.append([NewEvent(cev.credential_stream(credential_id), event)], _metadata(issuer))
    return positions[0]


def ledger_of(pool) -> Ledger:
    return Ledger(pool, CATALOG)


def _metadata(issuer: Issuer) -> Metadata:
    return Metadata(actor=f"client-of-{issuer.issuer_id}", tenant=issuer.issuer_id)


@dataclass
class Scene:
    """A registry world for verification tests: one accredited issuer with an
    approved achievement, an employer and an issuer API key."""

    ledger: Ledger
    issuer: Issuer
    achievement_id: str
    employer_key: str
    other_employer_key: str


async def build_scene(pool, settings, **spec: Any) -> Scene:
    from tests.support.world import World

    world = World(pool, settings)
    await world.agency()
    issuer = await world.issuer()
    achievement_id = await world.achievement(issuer, **spec)
    employer_key = await world.client("employer", "acme")
    other_employer_key = await world.client("employer", "globex")
    return Scene(ledger_of(pool), issuer, achievement_id, employer_key, other_employer_key)


@contextlib.asynccontextmanager
async def serving_ready(factory, settings):
    """The verification app on a real socket, once its read model has caught up."""
    from tests.support.http import serving

    async with serving(factory, settings) as client:
        async def ready():
            return True if (await client.get("/readyz")).status == 200 else None

        await eventually(ready)
        yield client
