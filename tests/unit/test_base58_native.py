"""The C base58 encoder (_base58.c) against the Python one it stands in for
(multibase.reference_base58_encode): the same text for every input."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.crypto import multibase

native = multibase._native  # noqa: SLF001 - the accelerator under test
pytestmark = pytest.mark.skipif(native is None, reason="the C accelerator is not built (no compiler at install)")


def test_every_length_and_run_of_leading_zeros_encodes_alike():
    for length in range(0, 130):
        for zeros in (0, 1, 2, 5):
            raw = b"\0" * zeros + os.urandom(length)
            assert native.b58encode(raw) == multibase.reference_base58_encode(raw), raw.hex()


def test_the_extremes_of_each_word_and_limb_encode_alike():
    values = [b"\x01", b"\xff", b"\xff" * 64, b"\x00" * 64, b"\x80" + b"\x00" * 63, b"\x00\x01" + b"\xff" * 62]
    values += [(58**k).to_bytes(32, "big") for k in range(1, 40)] + [(58**k - 1).to_bytes(32, "big")
                                                                     for k in range(1, 40)]
    for raw in values:
        assert native.b58encode(raw) == multibase.reference_base58_encode(raw), raw.hex()


@given(st.binary(max_size=300))
def test_any_bytes_encode_alike(raw: bytes):
    assert native.b58encode(raw) == multibase.reference_base58_encode(raw)


def test_it_takes_what_a_signature_is_given_as():
    raw = os.urandom(64)
    expected = multibase.reference_base58_encode(raw)
    assert native.b58encode(bytearray(raw)) == native.b58encode(memoryview(raw)) == expected
    assert multibase.base58_encode(raw) == expected
    with pytest.raises(TypeError):
        native.b58encode("not bytes")  # type: ignore[arg-type]
