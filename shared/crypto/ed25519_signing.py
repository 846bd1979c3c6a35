"""Ed25519 signing through libsodium, for signers that sign in bulk.

RFC 8032 signing is deterministic: libsodium and OpenSSL (the
`cryptography` package, which loads and stores the platform's keys) give
the same 64 bytes for the same seed and message
(tests/unit/test_ed25519_signing.py). Here libsodium signs in about 0.6 of
OpenSSL's time, and a bulk issuance signs once or twice per credential,
so the signing processes use this; everything else keeps `cryptography`'s
Ed25519PrivateKey, which satisfies the same `Signs` protocol.
"""

from __future__ import annotations

from typing import Protocol

import nacl.bindings

SIGNATURE_LENGTH = 64


class Signs(Protocol):
    def sign(self, data: bytes) -> bytes: ...


class SodiumSigningKey:
    """An Ed25519 key from its 32-byte seed, signing in libsodium."""

    __slots__ = ("_secret",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._secret = nacl.bindings.crypto_sign_seed_keypair(seed)[1]

    def sign(self, data: bytes) -> bytes:
        # crypto_sign returns the signature followed by the message.
        return nacl.bindings.crypto_sign(data, self._secret)[:SIGNATURE_LENGTH]
