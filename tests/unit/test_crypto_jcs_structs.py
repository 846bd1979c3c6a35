"""canonicalize_struct_fields: a Struct's fields straight to RFC 8785 bytes,
the same bytes as canonicalize of its fields' dict, or None where that is
not shown; and the ledger's event and metadata encodings that use it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import rfc8785

from shared.crypto.jcs import canonicalize, canonicalize_struct_fields
from shared.ledger.eventstore.events import Event, EventCatalog, Metadata, _builtins, encode_metadata

TRICKY = ['"\\\b\t\n\f\r\x00\x01\x1f\x7f/\u2028\u2029é€😀', "", "urn:uuid:12345678123456781234", "9" * 40,
          "".join(chr(c) for c in range(0x20, 0x3000, 7))]


class Plain(msgspec.Struct, frozen=True):
    zeta: str
    alpha: Any = None
    mid_field: Any = None
    b: Any = None


class Renamed(msgspec.Struct, rename="camel"):
    mid_field: str


class OmitsDefaults(msgspec.Struct, omit_defaults=True):
    a: str = ""


class Tagged(msgspec.Struct, tag=True):
    a: str


class AsArray(msgspec.Struct, array_like=True):
    a: str


def fields(struct: msgspec.Struct) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in struct.__struct_fields__}


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("other", [None, True, False, 0, -(2**53 - 1), 2**53 - 1, msgspec.Raw(b'{"k":[1,"x"]}')])
def test_struct_bytes_equal_canonicalize_of_its_fields(text: str, other: Any) -> None:
    struct = Plain(zeta=text, alpha=other, mid_field=text[::-1], b=other)
    assert canonicalize_struct_fields(struct) == canonicalize(fields(struct))
    if type(other) is not msgspec.Raw:
        assert canonicalize_struct_fields(struct) == rfc8785.dumps(fields(struct))


@pytest.mark.parametrize("struct", [
    Plain(zeta="x", alpha=1.0), Plain(zeta="x", alpha=2**53), Plain(zeta="x", alpha=["a"]), Plain(zeta="x", alpha={}),
    Plain(zeta="x", alpha=Plain(zeta="y")), Plain(zeta="lone \udc00"),
    Renamed(mid_field="x"), OmitsDefaults(), Tagged(a="x"), AsArray(a="x"),
], ids=["float", "unsafe-int", "list", "dict", "nested", "lone-surrogate", "rename", "omit-defaults", "tag",
        "array-like"])
def test_anything_it_cannot_vouch_for_is_left_to_the_caller(struct: msgspec.Struct) -> None:
    assert canonicalize_struct_fields(struct) is None


class Shaped(Event, frozen=True, kw_only=True):
    event_type = "test.Shaped"
    text: str
    count: int = 0
    share: float = 0.5
    document: msgspec.Raw = msgspec.Raw(b"{}")


class Versioned(Event, frozen=True, kw_only=True):
    event_type = "test.Versioned"
    class_version = 2
    text: str


@pytest.mark.parametrize("event", [
    Shaped(text=TRICKY[0], count=3, document=msgspec.Raw(b'{"a":"b"}')),  # a float: the generic path
    Versioned(text=TRICKY[4]),  # the version key: the generic path
])
def test_events_of_every_shape_encode_as_before(event: Event) -> None:
    builtins = _builtins(event)
    if event.class_version > 1:
        builtins["_class_version"] = event.class_version
    assert EventCatalog(Shaped, Versioned).encode(event) == canonicalize(builtins)


@pytest.mark.parametrize("text", TRICKY)
def test_string_events_and_metadata_take_the_struct_path_with_the_same_bytes(text: str) -> None:
    class Said(Event, frozen=True, kw_only=True):
        event_type = "test.Said"
        text: str
        document: msgspec.Raw = msgspec.Raw(b'{"signed":true}')

    event = Said(text=text)
    assert canonicalize_struct_fields(event) is not None
    assert EventCatalog(Said).encode(event) == canonicalize(_builtins(event))
    metadata = Metadata(actor=text, tenant="t", request_id=text[:3], recorded_at="2026-12-04T19:00:00.000000Z")
    assert canonicalize_struct_fields(metadata) is not None
    assert encode_metadata(metadata) == canonicalize(msgspec.to_builtins(metadata))
