"""Employers and their portal users.

An employer is a tenant of the registry with an `employer` API client. Its
first portal user signs in with that client's API key: the verification
service says whose key it is, and the portal keeps the key, sealed with the
platform master key, to run checks for the employer's users (so every check
is the employer's own, owned by its API client, as if sent by its script).
That user is the employer's admin and invites colleagues by email; they
sign in with an emailed link and never see the key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.employer.verification_client import VerificationClient
from shared.db.sql import load_queries
from shared.key_vault import KeyVault, VaultError
from shared.refusals import Forbidden, Invalid, NotFound

QUERIES = load_queries("services.employer")
MAX_EMAIL = 254


@dataclass(frozen=True, slots=True)
class User:
    user_id: uuid.UUID
    tenant_id: str
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row: asyncpg.Record) -> User:
    return User(row["user_id"], row["tenant_id"], row["email"], row["role"])


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > MAX_EMAIL or any(c.isspace() for c in email):
        raise Invalid("enter an email address such as name@example.com", code="bad-email")
    return email


def _binding(tenant_id: str) -> tuple[str, str]:
    # KeyVault binds what it seals to two names: this tenant's portal key.
    return f"employer-portal:{tenant_id}", "api-key"


async def sign_in_with_key(pool: asyncpg.Pool, vault: KeyVault, client: VerificationClient,
                           api_key: str, email: str) -> User:
    email = normalise_email(email)
    principal = await client.whoami(api_key.strip()) if api_key.strip() else None
    if principal is None:
        raise Invalid("this API key is unknown or revoked", code="bad-api-key")
    if principal.role != "employer":
        raise Forbidden("this is not an employer's API key; the portal is for employers", code="not-employer")
    sealed = vault.seal(*_binding(principal.tenant_id), api_key.strip().encode())
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(QUERIES["upsert_organisation"], principal.tenant_id, principal.client_id, sealed)
        row = await conn.fetchrow(QUERIES["upsert_admin"], uuid.uuid4(), principal.tenant_id, email)
    return _user(row)


async def api_key_of(pool: asyncpg.Pool, vault: KeyVault, tenant_id: str) -> str:
    row = await pool.fetchrow(QUERIES["organisation"], tenant_id)
    if row is None:
        raise NotFound("this employer has not signed in to the portal with its API key yet")
    try:
        return vault.open(*_binding(tenant_id), bytes(row["sealed_key"])).decode()
    except VaultError:
        raise Forbidden("the employer's stored key no longer opens; an admin must sign in with the API key again",
                        code="key-unreadable") from None


async def invite(pool: asyncpg.Pool, admin: User, email: str) -> User | None:
    """The invited user, or None if they already belong to this employer."""
    if not admin.is_admin:
        raise Forbidden("only the employer's admins invite colleagues", code="not-admin")
    row = await pool.fetchrow(QUERIES["invite_user"], uuid.uuid4(), admin.tenant_id, normalise_email(email),
                              admin.user_id)
    return _user(row) if row else None


async def user_by_id(pool: asyncpg.Pool, user_id: str) -> User | None:
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        return None
    row = await pool.fetchrow(QUERIES["user_by_id"], parsed)
    return _user(row) if row else None


async def user_for_email(pool: asyncpg.Pool, email: str) -> User | None:
    """The portal user an emailed sign-in link is for (the first employer
    that invited the address), or None: the caller answers the same either way."""
    try:
        email = normalise_email(email)
    except Invalid:
        return None
    rows = await pool.fetch(QUERIES["users_by_email"], email)
    return _user(rows[0]) if rows else None


async def colleagues(pool: asyncpg.Pool, tenant_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(QUERIES["users_of_tenant"], tenant_id)
