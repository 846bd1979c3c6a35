"""API clients and their keys.

A key is shown once, in the answer that creates it; the ledger and the
tables keep only its SHA-256 (shared/auth.py looks keys up by that hash).
Agencies create clients for themselves and their sub-agencies, for the
issuers they oversee, and for employer and auditor organisations: such a
tenant belongs to the agency that created its first client, and an
auditor's reach is that agency's subtree. Who reaches which client is the
authorization matrix (services/registry/authorization.py).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from services.registry import access, lookups
from services.registry import views as v
from services.registry.context import Caller, RegistryContext, new_id
from services.registry.schemas import CreateClient
from shared.auth import BOOTSTRAP_TENANT, hash_api_key
from shared.events import registry as ev
from shared.events.registry import client_stream
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid

KEY_PREFIX = "clk_"
# The kind of tenant each role's clients must belong to (None: a tenant of
# its own, neither an agency nor an issuer).
TENANT_KIND = {"agency_admin": "agency", "issuer": "issuer", "employer": None, "auditor": None}
CREATE_ROUTE = "POST /v1/clients"


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret: str

    def event(self, client_id: str) -> ev.ApiKeyIssued:
        return ev.ApiKeyIssued(client_id=client_id, key_id=self.key_id, key_hash=hash_api_key(self.secret).hex())


def new_api_key() -> NewApiKey:
    return NewApiKey(key_id=f"apikey-{uuid.uuid4().hex[:12]}", secret=KEY_PREFIX + secrets.token_urlsafe(32))


def client_events(client_id: str, tenant_id: str, role: str, name: str, rate_limit_class: str,
                  key: NewApiKey) -> list[NewEvent]:
    stream = client_stream(client_id)
    return [
        NewEvent(stream, ev.ApiClientCreated(
            client_id=client_id, tenant_id=tenant_id, role=role, name=name,  # type: ignore[arg-type]
            rate_limit_class=rate_limit_class)),
        NewEvent(stream, key.event(client_id)),
    ]


async def create_client(ctx: RegistryContext, caller: Caller, req: CreateClient) -> v.ClientCreated:
    registers = await _check_tenant(ctx, caller, req)
    client_id, key = new_id("client"), new_api_key()
    events = client_events(client_id, req.tenant_id, req.role, req.name, req.rate_limit_class, key)

    async def still_first(conn: asyncpg.Connection) -> None:
        # Under the append lock: a concurrent first client of the same new
        # tenant, committed before this one, registered it to its agency.
        if (await lookups.tenant_registration(conn, req.tenant_id) or ("",))[0] != caller.tenant:
            raise Forbidden(f"tenant {req.tenant_id!r} was registered by another agency meanwhile")

    positions = await ctx.write(caller, events, {client_stream(client_id): NO_STREAM},
                                verify=still_first if registers else None)
    client = await lookups.client(ctx.pool, client_id)
    return v.ClientCreated(client=client, key_id=key.key_id, api_key=key.secret, positions=positions)


async def _check_tenant(ctx: RegistryContext, caller: Caller, req: CreateClient) -> bool:
    """Refuses what the caller may not create; True when it registers a new organisation tenant."""
    if caller.role != "agency_admin":
        raise Forbidden(f"only an agency administrator can create API clients; this key is an {caller.role} key")
    if req.tenant_id == BOOTSTRAP_TENANT:
        raise Forbidden("the platform tenant has only the bootstrap key; it gets no API clients")
    kind = await lookups.tenant_kind(ctx.pool, req.tenant_id)
    wanted = TENANT_KIND[req.role]
    if kind != wanted:
        what = f"an {wanted}" if wanted else "a tenant of its own (an employer or auditor organisation)"
        found = f"is an {kind}" if kind else "is not a registered agency or issuer"
        raise Invalid(f"an {req.role} client belongs to {what}; {req.tenant_id!r} {found}")
    if not access.is_platform(caller):
        await access.acting_agency(ctx.pool, caller, "create API clients")
    registered = await lookups.tenant_registration(ctx.pool, req.tenant_id) if kind is None else None
    if registered is None and kind is None:
        return True  # a new employer or auditor tenant: it belongs to the caller from now on
    if registered is not None and registered[1] != req.role:
        raise Invalid(f"tenant {req.tenant_id!r} is an {registered[1]} tenant; it gets no {req.role} clients")
    await access.require_permitted(ctx.pool, caller, CREATE_ROUTE, req.tenant_id, "create API clients")
    return False


async def require_client_access(
    ctx: RegistryContext, caller: Caller, client: v.ClientView, route: str, doing: str,
) -> None:
    await access.require_permitted(ctx.pool, caller, route, client.tenant_id, f"{doing} (API client"
                                   f" {client.client_id!r})")


async def visible_client(ctx: RegistryContext, caller: Caller, client_id: str) -> v.ClientView:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "GET /v1/clients/{client_id}", "see the clients")
    return client


async def issue_key(ctx: RegistryContext, caller: Caller, client_id: str) -> v.ApiKeyIssuedView:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "POST /v1/clients/{client_id}/keys", "issue keys")
    if client.revoked_at is not None:
        raise Conflict(f"API client {client_id!r} was revoked at {client.revoked_at}; create a new client")
    key = new_api_key()
    positions = await ctx.write(caller, [NewEvent(client_stream(client_id), key.event(client_id))],
                                {client_stream(client_id): client.version})
    return v.ApiKeyIssuedView(client_id=client_id, key_id=key.key_id, api_key=key.secret, positions=positions)


async def revoke_key(ctx: RegistryContext, caller: Caller, client_id: str, key_id: str) -> v.ClientWritten:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "POST /v1/clients/{client_id}/keys/{key_id}/revoke",
                                "revoke keys")
    key = next((k for k in client.keys if k.key_id == key_id), None)
    if key is None:
        raise Invalid(f"API client {client_id!r} has no key {key_id!r}")
    if key.revoked_at is not None:
        raise Conflict(f"key {key_id!r} was already revoked at {key.revoked_at}")
    return await _append(ctx, caller, client, ev.ApiKeyRevoked(client_id=client_id, key_id=key_id))


async def revoke_client(ctx: RegistryContext, caller: Caller, client_id: str) -> v.ClientWritten:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "POST /v1/clients/{client_id}/revoke", "revoke clients")
    if client.revoked_at is not None:
        raise Conflict(f"API client {client_id!r} was already revoked at {client.revoked_at}")
    return await _append(ctx, caller, client, ev.ApiClientRevoked(client_id=client_id))


async def _append(ctx: RegistryContext, caller: Caller, client: v.ClientView, event: ev.Event) -> v.ClientWritten:
    stream = client_stream(client.client_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: client.version})
    return v.ClientWritten(client=await lookups.client(ctx.pool, client.client_id), positions=positions)


async def listing_scope(ctx: RegistryContext, caller: Caller) -> tuple[bool, list[str]]:
    """Whether the caller sees every client, else the tenants whose clients it sees."""
    return await access.reach(ctx.pool, caller, "GET /v1/clients")
