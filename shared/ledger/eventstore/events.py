"""Event base types, recorded events and the catalog that decodes them.

Every event type is a msgspec Struct defined once (in `shared/events/`) and
registered in a catalog under its `event_type` name. Decoding a ledger row
whose type is unknown or whose payload does not match its Struct is an
error: a projection that skipped it would silently diverge from the ledger.

Event types evolve the way pyeventsourcing's do. A type whose shape changes
raises its `class_version` and gains a static `upcast_vN_vN1(state)` for each
step, turning the stored state of version N into that of N+1. The ledger is
append-only, so old payloads are never rewritten: they are upcast every time
they are read. Payloads of version 1 carry no version key, which keeps every
event written before versioning byte-for-byte (and hash-for-hash) valid;
later versions carry `_class_version`. Its leading underscore sorts it before
every field name in the canonical (RFC 8785) payload, so a reader tells the
version from the payload's first bytes and decodes the current version as
fast as an unversioned one.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, TypeVar

import msgspec

from shared.crypto.jcs import canonicalize, canonicalize_struct_fields
from shared.ledger.eventstore.chain import check_identifier

VERSION_KEY = "_class_version"
_VERSION_PREFIX = b'{"' + VERSION_KEY.encode() + b'":'


class Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every ledger event; subclasses name themselves in `event_type`.

    A subclass that changes shape raises `class_version` and defines
    `upcast_v1_v2(state: dict) -> dict` (and so on for every step). The state
    an upcaster sees holds decoded JSON values, except fields typed
    `msgspec.Raw`, which stay raw so that signed bytes survive untouched.
    """

    event_type: ClassVar[str]
    class_version: ClassVar[int] = 1


class Metadata(msgspec.Struct, frozen=True, kw_only=True):
    """Who caused an event and when: hashed with it, so it is audit evidence."""

    actor: str
    tenant: str
    request_id: str = ""
    recorded_at: str = ""

    def stamped(self) -> Metadata:
        if self.recorded_at:
            return self
        now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        return msgspec.structs.replace(self, recorded_at=now.replace("+00:00", "Z"))


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One ledger row as it travels between processes (Postgres, Kafka)."""

    position: int
    stream_id: str
    version: int
    event_type: str
    payload: msgspec.Raw
    metadata: msgspec.Raw
    prev_hash: bytes
    hash: bytes


E = TypeVar("E", bound=Event)


class UnknownEventType(ValueError):
    pass


class MalformedEvent(ValueError):
    pass


class EventCatalog:
    def __init__(self, *types: type[Event]) -> None:
        self._types: dict[str, type[Event]] = {}
        for event_class in types:
            self.register(event_class)

    def register(self, event_class: type[E]) -> type[E]:
        name = event_class.event_type
        check_identifier("event type", name)
        if any(field <= VERSION_KEY for field in event_class.__struct_fields__):
            raise ValueError(f"{event_class.__name__}: field names must sort after {VERSION_KEY!r}")
        if self._types.get(name, event_class) is not event_class:
            raise ValueError(f"event type {name!r} is already registered")
        self._types[name] = event_class
        return event_class

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def encode(self, event: Event) -> bytes:
        if type(event) is not self._types.get(event.event_type):
            raise UnknownEventType(f"{type(event).__name__} is not in this catalog")
        if event.class_version == 1:  # no version key: the payload is the fields' JCS
            direct = canonicalize_struct_fields(event)
            if direct is not None:
                return direct
        builtins = _builtins(event)
        if event.class_version > 1:
            builtins[VERSION_KEY] = event.class_version
        return canonicalize(builtins)

    def decode(self, recorded: RecordedEvent) -> Event:
        event_class = self._types.get(recorded.event_type)
        if event_class is None:
            raise UnknownEventType(
                f"position {recorded.position}: unknown event type {recorded.event_type!r}"
            )
        try:
            return decode_payload(bytes(recorded.payload), event_class)
        except (msgspec.DecodeError, UpcastError) as exc:
            raise MalformedEvent(
                f"position {recorded.position}: {recorded.event_type} payload is invalid: {exc}"
            ) from exc


class UpcastError(ValueError):
    pass


def decode_payload(payload: bytes, event_class: type[E]) -> E:
    """A stored payload of any version of `event_class`, as the current version.

    Raises msgspec.DecodeError or UpcastError; `EventCatalog.decode` wraps
    both in MalformedEvent with the position.
    """
    if event_class.class_version == 1:
        return msgspec.json.decode(payload, type=event_class)
    stored_version, fields = _split_version(payload)
    if stored_version == event_class.class_version:
        return msgspec.json.decode(fields, type=event_class)
    if stored_version > event_class.class_version:
        raise UpcastError(f"written as version {stored_version}, newer than this code's "
                          f"{event_class.class_version}")
    # Top-level values are split out as raw JSON, so a `msgspec.Raw` field (an
    # embedded signed document) goes through every step as its stored bytes.
    raw_fields = _raw_fields(event_class)
    state: dict[str, object] = {
        name: value if name in raw_fields else msgspec.json.decode(value)
        for name, value in msgspec.json.decode(fields, type=dict[str, msgspec.Raw]).items()
    }
    for version in range(stored_version, event_class.class_version):
        upcast = getattr(event_class, f"upcast_v{version}_v{version + 1}", None)
        if upcast is None:
            raise UpcastError(f"no upcaster from version {version} to {version + 1}")
        state = upcast(state)
    return msgspec.json.decode(msgspec.json.encode(state), type=event_class)


def _split_version(payload: bytes) -> tuple[int, bytes]:
    """The stored version and the payload without its version key."""
    if not payload.startswith(_VERSION_PREFIX):
        return 1, payload
    end = payload.find(b",", len(_VERSION_PREFIX))
    digits = payload[len(_VERSION_PREFIX):end if end > 0 else -1]
    if not digits.isdigit():
        raise UpcastError(f"{VERSION_KEY} is not a version number")
    rest = b"{" + payload[end + 1:] if end > 0 else b"{}"
    return int(digits), rest


def _raw_fields(event_class: type[Event]) -> frozenset[str]:
    return frozenset(
        field.name for field in msgspec.structs.fields(event_class) if field.type is msgspec.Raw
    )


def _builtins(event: Event) -> dict[str, object]:
    """Like msgspec.to_builtins, but a top-level msgspec.Raw field (an embedded
    document that is already canonical JSON) is kept as it is, so its exact
    bytes land in the payload and are hashed as they were signed."""
    return {
        name: value if type(value) is msgspec.Raw else msgspec.to_builtins(value)
        for name in event.__struct_fields__
        for value in (getattr(event, name),)
    }


def encode_metadata(metadata: Metadata) -> bytes:
    direct = canonicalize_struct_fields(metadata)
    return direct if direct is not None else canonicalize(msgspec.to_builtins(metadata))


RECORDED_EVENT_ENCODER = msgspec.json.Encoder()
RECORDED_EVENT_DECODER = msgspec.json.Decoder(RecordedEvent)
