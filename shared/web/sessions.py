"""Server-side sessions and the secrets around them (no HTTP here).

A session id is 32 random bytes handed to the browser once, in a cookie;
the database keeps only its SHA-256, so a read of the table opens no
session. The subject (who signed in: an email address) is sealed with
AES-256-GCM under a key derived from the master key, bound to the realm.
Every session, signed in or not, has its own CSRF token: the sign-in form
is a form too. Signing in replaces the session (a new id), so an id planted
before sign-in is worth nothing after it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.db.sql import load_queries

QUERIES = load_queries("shared.web")
_NONCE = 12


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hashed(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Sealer:
    """Seals short strings (addresses) for one realm under the master key."""

    def __init__(self, master_key_b64: str, realm: str) -> None:
        master = base64.b64decode(master_key_b64, validate=True)
        self._aead = AESGCM(hmac.new(master, b"credledger/web/seal/v1", hashlib.sha256).digest())
        self._bucket_key = hmac.new(master, b"credledger/web/rate-bucket/v1", hashlib.sha256).digest()
        self._realm = realm.encode()

    def seal(self, value: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, value.encode(), self._realm)

    def open(self, sealed: bytes) -> str | None:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], self._realm).decode()
        except (InvalidTag, ValueError):
            return None

    def bucket(self, kind: str, value: str) -> bytes:
        """A keyed hash naming a rate-limit bucket without naming the address."""
        return hmac.new(self._bucket_key, f"{kind}\n{value}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    csrf_token: str
    subject: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.subject is not None


class SessionStore:
    def __init__(self, pool: asyncpg.Pool, realm: str, sealer: Sealer, max_age_seconds: int) -> None:
        self._pool = pool
        self.realm = realm
        self._sealer = sealer
        self.max_age_seconds = max_age_seconds

    async def create(self, subject: str | None = None) -> Session:
        session = Session(new_secret(), new_secret(), subject)
        sealed = self._sealer.seal(subject) if subject is not None else None
        await self._pool.execute(QUERIES["create_session"], self.realm, hashed(session.session_id), sealed,
                                 session.csrf_token, float(self.max_age_seconds))
        return session

    async def load(self, session_id: str) -> Session | None:
        row = await self._pool.fetchrow(QUERIES["load_session"], self.realm, hashed(session_id))
        if row is None:
            return None
        subject = None
        if row["sealed_subject"] is not None:
            subject = self._sealer.open(bytes(row["sealed_subject"]))
            if subject is None:  # sealed under another master key: treat as gone
                return None
        return Session(session_id, row["csrf_token"], subject)

    async def end(self, session_id: str) -> None:
        await self._pool.execute(QUERIES["delete_session"], self.realm, hashed(session_id))

    async def replace(self, old: Session | None, subject: str) -> Session:
        """Sign in: a fresh id and CSRF token; the old session is gone."""
        if old is not None:
            await self.end(old.session_id)
        return await self.create(subject)


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
