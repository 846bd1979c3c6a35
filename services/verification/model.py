"""The verification read model: every credential's verdict inputs, in memory.

The credentials are packed rows (credential_table.py: about 100 bytes each,
no Python object per credential); status details are kept only for the few
credentials that are not active. The registry's state (issuers, keys,
accreditations, achievements) lives beside it, fed by the same events, so a
verdict never mixes two points of the ledger.

The rows also reference their prebuilt verdict fragments (see verdicts.py);
a registry change bumps `epoch` and forgets every one of them at once.

Page data (achievement titles and images) is not per credential: the badge
page reads it from `registry` by the row's achievement id.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import msgspec

from services.verification.credential_table import NEVER, CredentialRecord, CredentialTable
from shared.credential_status import ACTION_OF_EVENT, LABELS, STATUSES, after_event
from shared.crypto.multibase import multibase_to_public_key
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.events import endorsements as endo
from shared.events import registry as rev
from shared.ledger.eventstore.events import Event, RecordedEvent
from shared.registry_state import REGISTRY_PREFIX, RegistryState
from shared.timeutil import parse_time

__all__ = ["ACTIVE", "FLAGGED", "NEVER", "REVOKED", "STATUS_NAMES", "SUSPENDED", "CredentialRecord", "ReadModel",
           "StatusNote"]

# A status is packed as its index in STATUSES (shared/credential_status.py).
ACTIVE, REVOKED, SUSPENDED, FLAGGED = (STATUSES.index(s) for s in ("active", "revoked", "suspended", "flagged"))
STATUS_NAMES = tuple(LABELS[s] for s in STATUSES)
_DIGEST = 32
# Registry events that cannot change any verdict (API clients and keys).
_NO_VERDICT_IMPACT = (rev.ApiClientCreated, rev.ApiKeyIssued, rev.ApiKeyRevoked, rev.ApiClientRevoked)


class StatusNote(msgspec.Struct, array_like=True):
    """What the public may know of why a credential is not active (only
    those carry one): the reason's category, who changed the status and
    when. The issuer's free-text reason never enters this read model; the
    issuer, its agencies and the holder read it from the status history."""

    reason_code: str
    by_issuer: bool
    on: str  # YYYY-MM-DD


class _IdentityObject(msgspec.Struct):
    identityHash: str = ""  # noqa: N815 - Open Badges field names
    salt: str = ""


class _Subject(msgspec.Struct):
    identifier: list[_IdentityObject] | _IdentityObject | None = None


class _DocumentSalt(msgspec.Struct):
    credentialSubject: _Subject | None = None  # noqa: N815


_SALT_DECODER = msgspec.json.Decoder(_DocumentSalt)


def learner_salt(document: bytes, learner_hash: str) -> str:
    """The salt of the IdentityObject that carries `learner_hash` (OB 3.0)."""
    try:
        subject = _SALT_DECODER.decode(document).credentialSubject
    except msgspec.DecodeError:
        return ""
    found = subject.identifier if subject else None
    identities = found if isinstance(found, list) else [found] if found else []
    for identity in identities:
        if identity.identityHash == learner_hash:
            return identity.salt
    return identities[0].salt if identities else ""


def epoch_seconds(text: str) -> int:
    return int(parse_time(text).timestamp())


class ReadModel:
    def __init__(self) -> None:
        self.credentials = CredentialTable()
        self.notes: dict[str, StatusNote] = {}
        self.awards_of: dict[str, list[str]] = {}
        self.registry = RegistryState()
        # Raw registry events, replayed from a snapshot (they are few).
        self.registry_events: list[tuple[str, bytes]] = []
        self.keys_by_public: dict[bytes, tuple[str, str]] = {}
        self.position = 0
        # The chain hash of `position`; None until known (see snapshot.py).
        self.last_hash: bytes | None = None
        self.epoch = 0
        self._handlers: dict[str, Callable[[RecordedEvent], None]] = {
            cev.CredentialIssued.event_type: self._issued,
            endo.EndorsementIssued.event_type: self._endorsed,
            **dict.fromkeys(ACTION_OF_EVENT, self._status),
        }

    def apply(self, recorded: RecordedEvent) -> None:
        handler = self._handlers.get(recorded.event_type)
        if handler is not None:
            handler(recorded)
        elif recorded.event_type.startswith(REGISTRY_PREFIX):
            self.apply_registry(recorded.event_type, bytes(recorded.payload))
        self.position = recorded.position
        self.last_hash = recorded.hash

    def apply_registry(self, event_type: str, payload: bytes) -> None:
        event = CATALOG.decode(RecordedEvent(
            position=0, stream_id="", version=0, event_type=event_type, payload=msgspec.Raw(payload),
            metadata=msgspec.Raw(b"{}"), prev_hash=b"", hash=b""))
        self.registry.apply(event)
        self.registry_events.append((event_type, payload))
        if isinstance(event, rev.IssuerKeyAdded):
            public = multibase_to_public_key(event.public_key_multibase)
            self.keys_by_public[public] = (event.issuer_id, event.key_id)
        if not isinstance(event, _NO_VERDICT_IMPACT):
            self.epoch += 1
            self.credentials.clear_parts()

    def _issued(self, recorded: RecordedEvent) -> None:
        event = CATALOG.decode(recorded)
        assert isinstance(event, cev.CredentialIssued)
        credential_id = event.credential_id
        components = tuple(event.components)
        self.credentials.add(
            credential_id, bytes.fromhex(event.document_hash).ljust(_DIGEST, b"\0")[:_DIGEST], event.learner_hash,
            learner_salt(bytes(event.document), event.learner_hash),
            (sys.intern(event.issuer_id), sys.intern(event.key_id), sys.intern(event.achievement_id)),
            epoch_seconds(event.issued_at), epoch_seconds(event.valid_from),
            epoch_seconds(event.valid_until) if event.valid_until else NEVER, components)
        for component in components:
            self.awards_of.setdefault(component, []).append(credential_id)

    def _endorsed(self, recorded: RecordedEvent) -> None:
        """An EndorsementCredential: no achievement (its empty id says so) and no learner."""
        event = CATALOG.decode(recorded)
        assert isinstance(event, endo.EndorsementIssued)
        issued = epoch_seconds(event.issued_at)
        self.credentials.add(
            event.credential_id, bytes.fromhex(event.document_hash).ljust(_DIGEST, b"\0")[:_DIGEST], "", "",
            (sys.intern(event.endorser_id), sys.intern(event.key_id), ""), issued, issued, NEVER)

    def _status(self, recorded: RecordedEvent) -> None:
        event = CATALOG.decode(recorded)
        credential_id = event.credential_id  # type: ignore[attr-defined]
        row = self.credentials.row(credential_id)
        if row < 0:
            return  # a status change for a credential issued elsewhere: nothing to answer from
        # Through the one status table: a flag keeps a suspension, as revocation's fold does.
        record = CredentialRecord(self.credentials, row)
        status = STATUSES.index(after_event(STATUSES[record.status], recorded.event_type))
        self.credentials.set_status(row, status)
        if status == ACTIVE:
            self.notes.pop(credential_id, None)
        else:
            self.notes[credential_id] = status_note(recorded, event, record.issuer_id)
        self.invalidate(credential_id)

    def invalidate(self, credential_id: str) -> None:
        """Drop the cached verdict of a credential and of the awards stacked on it."""
        row = self.credentials.row(credential_id)
        if row >= 0:
            self.credentials.parts[row] = -1
        for award in self.awards_of.get(credential_id, ()):
            self.invalidate(award)

    def issuer_name(self, issuer_id: str) -> str:
        issuer = self.registry.issuers.get(issuer_id)
        return issuer.event.legal_name if issuer else issuer_id


class _Stamp(msgspec.Struct):
    """The part of an event's metadata a status note needs."""

    tenant: str = ""
    recorded_at: str = ""


_STAMP = msgspec.json.Decoder(_Stamp)


def status_note(recorded: RecordedEvent, event: Event, issuer_id: str) -> StatusNote:
    # A flag for review has no reason code, only its cause.
    cause = getattr(event, "cause", None)
    reason_code = getattr(event, "reason_code", None) or (cause.kind if cause else "other")
    stamp = _STAMP.decode(recorded.metadata)
    return StatusNote(reason_code, stamp.tenant == issuer_id, stamp.recorded_at[:10])
