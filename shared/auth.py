"""API-key authentication and role checks, shared by every service.

Keys are `Authorization: Bearer <key>`. Only SHA-256 hashes of keys are
stored (by the registry, which owns the key tables; read here through its
`registry.principal_for_key`); a key is looked up by its hash, so a database
reader cannot recover a usable key. Lookups are cached for a few seconds because bulk clients send thousands of requests a minute;
the cost is that a revoked key keeps working for at most `cache_ttl`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import asyncpg
import msgspec

from shared.db.sql import load_queries
from shared.events.registry import Role
from shared.ledger.eventstore.events import Metadata
from shared.refusals import Forbidden, Unauthenticated

ROLES: tuple[Role, ...] = ("agency_admin", "issuer", "employer", "auditor")
BOOTSTRAP_CLIENT_ID = "bootstrap-admin"
BOOTSTRAP_TENANT = "platform"

QUERIES = load_queries("shared")


class Principal(msgspec.Struct, frozen=True):
    client_id: str
    role: Role
    tenant_id: str

    def metadata(self, request_id: str = "", tenant: str | None = None) -> Metadata:
        """The metadata of the events this caller causes (for its own tenant unless told)."""
        return Metadata(actor=self.client_id, tenant=tenant or self.tenant_id, request_id=request_id)


def hash_api_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Authenticator:
    def __init__(
        self, pool: asyncpg.Pool, bootstrap_key: str = "", *, cache_ttl: float = 5.0,
        cache_size: int = 10_000,
    ) -> None:
        self._pool = pool
        self._bootstrap_hash = hash_api_key(bootstrap_key) if bootstrap_key else b""
        self._cache_ttl = cache_ttl
        self._cache_size = cache_size
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
        key_hash = hash_api_key(key.strip())
        if self._bootstrap_hash and hmac.compare_digest(key_hash, self._bootstrap_hash):
            return Principal(BOOTSTRAP_CLIENT_ID, "agency_admin", BOOTSTRAP_TENANT)
        principal = await self._lookup(key_hash)
        if principal is None:
            raise Unauthenticated("the API key is unknown or revoked")
        return principal

    async def _lookup(self, key_hash: bytes) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await self._pool.fetchrow(QUERIES["principal_for_key"], key_hash)
        principal = Principal(row["client_id"], row["role"], row["tenant_id"]) if row else None
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key_hash] = (now + self._cache_ttl, principal)
        return principal


def require_role(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role not in roles:
        raise Forbidden(
            f"this endpoint is for {', '.join(sorted(roles))} clients; this key is {principal.role}"
        )


def token_hash(token: str) -> str:
    """The stored form of a holder's learner link token (CredentialIssued.holder_token_hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
