"""The verification read model: every credential's verdict inputs, in memory.

One record per credential, kept small because a deployment holds millions:
`__slots__`, the two digests packed in one bytes object, times as shared
ints, issuer/key/achievement ids interned, and status details only for the
few credentials that are not active. The registry's state (issuers, keys,
accreditations, achievements) lives beside it, fed by the same events, so a
verdict never mixes two points of the ledger.

The records also cache their prebuilt verdict fragments (see verdicts.py);
a registry change bumps `epoch`, which invalidates every cache lazily.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import msgspec

from shared.credential_format import IDENTITY_HASH_PREFIX
from shared.crypto.multibase import multibase_to_public_key
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.events import registry as rev
from shared.ledger.eventstore.events import Event, RecordedEvent
from shared.registry_state import REGISTRY_PREFIX, RegistryState
from shared.timeutil import parse_time

ACTIVE, REVOKED, SUSPENDED, FLAGGED = 0, 1, 2, 3
STATUS_NAMES = ("active", "revoked", "suspended", "flagged_for_review")
# valid_until of a credential that never expires, so the hot path needs no None test.
NEVER = 2**62
_DIGEST = 32
# Registry events that cannot change any verdict (API clients and keys).
_NO_VERDICT_IMPACT = (rev.ApiClientCreated, rev.ApiKeyIssued, rev.ApiKeyRevoked, rev.ApiClientRevoked)


class CredentialRecord:
    __slots__ = (
        "digests", "salt", "issuer_id", "key_id", "achievement_id", "issued_at",
        "valid_from", "valid_until", "status", "components", "parts", "parts_epoch",
    )

    def __init__(
        self, digests: bytes, salt: str, issuer_id: str, key_id: str, achievement_id: str,
        issued_at: int, valid_from: int, valid_until: int, status: int, components: tuple[str, ...],
    ) -> None:
        self.digests = digests  # SHA-256 of the issued document, then the learner hash
        self.salt = salt
        self.issuer_id = issuer_id
        self.key_id = key_id
        self.achievement_id = achievement_id
        self.issued_at = issued_at
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.status = status
        self.components = components
        self.parts: Any = None
        self.parts_epoch = -1

    @property
    def document_hash(self) -> bytes:
        return self.digests[:_DIGEST]

    @property
    def learner_hash(self) -> str:
        learner = self.digests[_DIGEST:]
        if len(learner) == _DIGEST:
            return IDENTITY_HASH_PREFIX + learner.hex()
        return learner.decode()

    def row(self, credential_id: str) -> tuple:
        return (credential_id, self.digests, self.salt, self.issuer_id, self.key_id, self.achievement_id,
                self.issued_at, self.valid_from, self.valid_until, self.status, list(self.components))


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


def pack_digests(document_hash: str, learner_hash: str) -> bytes:
    doc = bytes.fromhex(document_hash)
    hex_part = learner_hash.removeprefix(IDENTITY_HASH_PREFIX)
    if learner_hash.startswith(IDENTITY_HASH_PREFIX) and len(hex_part) == 2 * _DIGEST:
        try:
            return doc + bytes.fromhex(hex_part)
        except ValueError:
            pass
    return doc + learner_hash.encode()  # an unusual hash is kept verbatim


def epoch_seconds(text: str) -> int:
    return int(parse_time(text).timestamp())


class ReadModel:
    def __init__(self) -> None:
        self.credentials: dict[str, CredentialRecord] = {}
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
        self._ints: dict[int, int] = {}
        self._handlers: dict[str, Callable[[RecordedEvent], None]] = {
            cev.CredentialIssued.event_type: self._issued,
            cev.CredentialRevoked.event_type: lambda r: self._status(r, REVOKED),
            cev.CredentialSuspended.event_type: lambda r: self._status(r, SUSPENDED),
            cev.CredentialReinstated.event_type: lambda r: self._status(r, ACTIVE),
            cev.CredentialFlaggedForReview.event_type: lambda r: self._status(r, FLAGGED),
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

    def shared_int(self, value: int) -> int:
        return self._ints.setdefault(value, value)

    def add(self, credential_id: str, record: CredentialRecord) -> None:
        self.credentials[credential_id] = record
        for component in record.components:
            self.awards_of.setdefault(component, []).append(credential_id)

    def _issued(self, recorded: RecordedEvent) -> None:
        event = CATALOG.decode(recorded)
        assert isinstance(event, cev.CredentialIssued)
        document = bytes(event.document)
        self.add(event.credential_id, CredentialRecord(
            pack_digests(event.document_hash, event.learner_hash),
            learner_salt(document, event.learner_hash),
            sys.intern(event.issuer_id), sys.intern(event.key_id), sys.intern(event.achievement_id),
            self.shared_int(epoch_seconds(event.issued_at)),
            self.shared_int(epoch_seconds(event.valid_from)),
            self.shared_int(epoch_seconds(event.valid_until)) if event.valid_until else NEVER,
            ACTIVE, tuple(event.components),
        ))

    def _status(self, recorded: RecordedEvent, status: int) -> None:
        event = CATALOG.decode(recorded)
        record = self.credentials.get(event.credential_id)  # type: ignore[attr-defined]
        if record is None:
            return  # a status change for a credential issued elsewhere: nothing to answer from
        record.status = status
        credential_id = event.credential_id  # type: ignore[attr-defined]
        if status == ACTIVE:
            self.notes.pop(credential_id, None)
        else:
            self.notes[credential_id] = status_note(recorded, event, record.issuer_id)
        self.invalidate(credential_id)

    def invalidate(self, credential_id: str) -> None:
        """Drop the cached verdict of a credential and of the awards stacked on it."""
        record = self.credentials.get(credential_id)
        if record is not None:
            record.parts_epoch = -1
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
