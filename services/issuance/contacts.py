"""Learner contact addresses, sealed, for the wallet's claim emails.

Credentials and events name a learner only by salted hashes; to tell a
learner that a credential is waiting, the platform must keep their address
somewhere. It keeps it here only: sealed with AES-256-GCM under a key
derived from the master key, with the learner key as associated data (a
sealed address copied to another learner's row does not open), one row per
learner key. Only the internal claim endpoint ever opens it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.issuance.learners import Learner
from shared.db.sql import load_queries

QUERIES = load_queries("services.issuance", "contacts.sql")
_NONCE = 12


class Contacts:
    def __init__(self, master_key_b64: str) -> None:
        master = base64.b64decode(master_key_b64)
        self._aead = AESGCM(hmac.new(master, b"credledger/issuance/learner-contact/v1", hashlib.sha256).digest())

    def seal(self, learner_key: str, address: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, address.encode(), learner_key.encode())

    def open(self, learner_key: str, sealed: bytes) -> str | None:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], learner_key.encode()).decode()
        except InvalidTag:
            return None

    async def remember(self, conn: asyncpg.Connection, learners: Iterable[Learner]) -> None:
        """Keep the address of every learner identified by email (inside the issuing transaction)."""
        rows = {learner.learner_key: learner.contact for learner in learners if learner.contact}
        if rows:
            keys = sorted(rows)
            await conn.execute(QUERIES["remember_contacts"], keys, [self.seal(key, rows[key]) for key in keys])

    def sealed(self, learners: Iterable[Learner]) -> dict[str, bytes]:
        """learner key -> sealed address, for every learner identified by email."""
        return {learner.learner_key: self.seal(learner.learner_key, learner.contact)
                for learner in learners if learner.contact}

    async def address(self, db: asyncpg.Pool | asyncpg.Connection, learner_key: str) -> str | None:
        sealed = await db.fetchval(QUERIES["contact_of"], learner_key)
        return self.open(learner_key, bytes(sealed)) if sealed is not None else None
