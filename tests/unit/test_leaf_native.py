"""A leaf's recorded_at and document found by the audit's C reader (leaf.py
uses it where built) are those msgspec finds, for every payload and
metadata, and a leaf is the same bytes either way."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.crypto.jcs import canonicalize
from shared.ledger.transparency import leaf
from shared.ledger.transparency.native import chunkhash

pytestmark = pytest.mark.skipif(chunkhash is None, reason="the C accelerator is not built")

DOCUMENT = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:1", "name": "Caf\u00e9 \"x\"",
            "proof": {"proofValue": "z5eQ"}, "n": [1, 2.5, None, True]}
PAYLOADS = [
    canonicalize({"_class_version": 2, "credential_id": "urn:uuid:1", "document": DOCUMENT, "status": []}),
    canonicalize({"credential_id": "urn:uuid:1", "reason": "lost"}),
    canonicalize({"outer": {"document": DOCUMENT}}),  # not a top-level member
    canonicalize({"note": '"document": is only text here'}),
    canonicalize({"document": None}),
    canonicalize({"document": "a string"}),
    b'{"document":{"a":1},"document":{"b":2}}',  # the last one counts, as msgspec reads it
    b'{ "document" : {"a": 1} }',
    b'{"document":{"a":"\\u00e9\\n"},"z":1}',
    b'{}',
]
METADATA = [
    b'{"actor":"a","recorded_at":"2026-12-04T18:44:00.165628Z","tenant":"t"}',
    b'{"actor":"a","tenant":"t"}',
    b'{"recorded_at":"caf\\u00e9"}',
    '{"recorded_at":"café"}'.encode(),
    b'{ "recorded_at" : "2026-01-01T00:00:00Z" }',
    b'{"recorded_at":"a","recorded_at":"b"}',
]


def members_by_msgspec(payload: bytes, metadata: bytes) -> tuple[bytes, bytes | None]:
    return leaf.recorded_at_json(metadata), leaf.payload_document(payload)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("metadata", METADATA)
def test_members_found_in_c_are_msgspecs(payload: bytes, metadata: bytes):
    assert (leaf._recorded_at(metadata), leaf._document(payload)) == members_by_msgspec(payload, metadata)  # noqa: SLF001
    native = leaf.encoded_leaf_bytes(7, b"s", 1, b"t", payload, metadata, bytes(32))
    assert native == _pure_leaf(payload, metadata)


def _pure_leaf(payload: bytes, metadata: bytes) -> bytes:
    saved = leaf.chunkhash
    leaf.chunkhash = None  # type: ignore[assignment]
    try:
        return leaf.encoded_leaf_bytes(7, b"s", 1, b"t", payload, metadata, bytes(32))
    finally:
        leaf.chunkhash = saved


@pytest.mark.parametrize("bad", [b'{"recorded_at":5}', b'{"recorded_at":"x"', b"[]"])
def test_metadata_msgspec_refuses_is_refused_alike(bad: bytes):
    with pytest.raises(msgspec.DecodeError):
        leaf.recorded_at_json(bad)
    with pytest.raises(msgspec.DecodeError):
        leaf._recorded_at(bad)  # noqa: SLF001


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["document", "a", "recorded_at", "zz"]), json_values, max_size=4))
def test_any_object_gives_the_same_members(members: dict):
    encoded = msgspec.json.encode(members)
    assert leaf._document(encoded) == leaf.payload_document(encoded)  # noqa: SLF001
    if not isinstance(members.get("recorded_at", ""), str):
        return
    assert leaf._recorded_at(encoded) == leaf.recorded_at_json(encoded)  # noqa: SLF001
