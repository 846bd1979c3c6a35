"""The one-pass body checks of the verifier's C accelerator
(shared/crypto/_jcsproof_scan.h) against the Python checks they stand in
for: jcs._python_plain_bytes (the same answer on any bytes) and
untrusted.json_depth_within (proven within only where it says so too)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import untrusted
from shared.crypto.jcs import _python_plain_bytes
from shared.crypto.native import jcsproof
from tests.support import foreign_corpus

pytestmark = pytest.mark.skipif(
    jcsproof is None, reason="the C accelerator is not built (no compiler or OpenSSL headers at install)"
)


# -- jcs.PlainJsonDecoder's byte check --

PLAIN_ALPHABET = list(b'0123456789-:[], \t\r\n"\\udDaAbB89xe{}') + [0xF0, 0xF4, 0xC3, 0xA9, 0xEF, 0x00]


@pytest.mark.parametrize("raw", [
    b"", b"1234567890123456", b"[1234567890123456]", b'{"a":1234567890123456}', b'{"a": -123456789012345}',
    b'{"a":"urn:uuid:1234567890123456"}', b'{"a":"x 1234567890123456"}', b'{"a":[ 1234567890123456]}',
    b'{"a":\t1234567890123456}', b'"\\ud800"', b'"\\uD83D\\ude00"', b'"\\udc00"', b'"\\ue000"', b'"\\u"',
    b'"\\ud', "😀".encode(), "é€".encode(), b'{"a":"b"}' * 100, b":" + b"0" * 15, b"," + b"9" * 40,
])
def test_plain_bytes_answers_as_python(raw: bytes) -> None:
    assert jcsproof.plain_bytes(raw) == _python_plain_bytes(raw)


@settings(max_examples=700, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_ALPHABET), max_size=80).map(bytes))
def test_plain_bytes_answers_as_python_on_any_bytes(raw: bytes) -> None:
    assert jcsproof.plain_bytes(raw) == _python_plain_bytes(raw)


def test_plain_bytes_of_real_bodies() -> None:
    model, issuers, stranger, issued = foreign_corpus.world()
    for item in foreign_corpus.items(issuers, stranger, issued):
        raw = msgspec.json.encode(item)
        assert jcsproof.plain_bytes(raw) == _python_plain_bytes(raw)


# -- untrusted.json_depth_within's proof in one pass --

def python_depth_within(raw: bytes, max_depth: int, monkeypatch: pytest.MonkeyPatch) -> bool:
    with monkeypatch.context() as patched:
        patched.setattr(untrusted, "jcsproof", None)
        return untrusted.json_depth_within(raw, max_depth)


@settings(max_examples=700, deadline=None)
@given(st.lists(st.sampled_from(list(b'{}[]""\\a:,')), max_size=60).map(bytes), st.integers(0, 8))
def test_depth_is_proven_only_where_python_says_within(raw: bytes, max_depth: int) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        if jcsproof.depth_proven_within(raw, max_depth):
            assert python_depth_within(raw, max_depth, monkeypatch)


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(st.recursive(st.text(alphabet='ab"\\{}[]', max_size=4) | st.integers(), lambda inner: st.lists(
    inner, max_size=3) | st.dictionaries(st.text(alphabet='k"\\[}', max_size=3), inner, max_size=3), max_leaves=30),
    st.integers(0, 10))
def test_valid_json_is_proven_as_deep_as_it_is(value: Any, max_depth: int) -> None:
    raw = msgspec.json.encode(value)
    assert jcsproof.depth_proven_within(raw, max_depth) == (nesting(value) <= max_depth)
    assert untrusted.json_depth_within(raw, max_depth) == (nesting(value) <= max_depth)


def test_depth_of_real_bodies_and_odd_bounds() -> None:
    model, issuers, stranger, issued = foreign_corpus.world()
    raw = msgspec.json.encode({"items": foreign_corpus.items(issuers, stranger, issued)})
    assert jcsproof.depth_proven_within(raw, untrusted.MAX_JSON_DEPTH)
    assert not jcsproof.depth_proven_within(raw, 3)
    assert not jcsproof.depth_proven_within(b"[]", -1) and not jcsproof.depth_proven_within(b"[]", 10_000)
    assert not jcsproof.depth_proven_within(b'["\\', 5) and not jcsproof.depth_proven_within(b'["abc', 5)
