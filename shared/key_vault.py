"""Sealing hosted signing keys with the platform master key.

AES-256-GCM with a random nonce; the issuer and key ids are bound as
associated data, so a sealed seed copied onto another key's row fails to
open instead of signing for the wrong issuer.
"""

from __future__ import annotations

import base64
import os

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto.eddsa_jcs import signing_key_from_seed
from shared.db.sql import load_queries

QUERIES = load_queries("shared")
_NONCE_BYTES = 12


class VaultError(RuntimeError):
    pass


class KeyVault:
    def __init__(self, master_key_b64: str) -> None:
        try:
            master = base64.b64decode(master_key_b64, validate=True)
        except ValueError:
            master = b""
        if len(master) != 32:
            raise VaultError("CREDLEDGER_MASTER_KEY must be 32 bytes, base64-encoded")
        self._aead = AESGCM(master)

    def seal(self, issuer_id: str, key_id: str, seed: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, seed, _binding(issuer_id, key_id))

    def open(self, issuer_id: str, key_id: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _binding(issuer_id, key_id))
        except InvalidTag:
            raise VaultError(f"hosted key {issuer_id}/{key_id} does not open with this master key") from None

    async def load(self, conn: asyncpg.Connection | asyncpg.Pool, issuer_id: str, key_id: str) -> Ed25519PrivateKey:
        sealed = await conn.fetchval(QUERIES["sealed_hosted_key"], issuer_id, key_id)
        if sealed is None:
            raise VaultError(f"no hosted key {issuer_id}/{key_id}")
        return signing_key_from_seed(self.open(issuer_id, key_id, bytes(sealed)))


def _binding(issuer_id: str, key_id: str) -> bytes:
    return f"credledger-hosted-key\n{issuer_id}\n{key_id}".encode()
