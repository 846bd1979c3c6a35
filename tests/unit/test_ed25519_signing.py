"""libsodium's Ed25519 signatures (the bulk signers') are OpenSSL's, byte for byte."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.crypto.ed25519_signing import SodiumSigningKey


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200))
def test_the_same_seed_signs_any_message_as_openssl_does(seed: bytes, message: bytes):
    expected = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    assert SodiumSigningKey(seed).sign(message) == expected


def test_signatures_verify_under_the_seeds_public_key():
    seed, message = os.urandom(32), os.urandom(64)  # the two hashes a proof signs
    signature = SodiumSigningKey(seed).sign(message)
    Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(signature, message)  # raises if not


def test_a_seed_is_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        SodiumSigningKey(os.urandom(31))
