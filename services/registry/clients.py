"""API clients and their keys.

A key is shown once, in the answer that creates it; the ledger and the
tables keep only its SHA-256 (shared/auth.py looks keys up by that hash).
Agencies create clients for themselves and their sub-agencies, for the
issuers they oversee, and for employer and auditor organisations.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from services.registry import access, lookups
from services.registry import views as v
from services.registry.context import Caller, RegistryContext, new_id
from shared.refusals import Conflict, Forbidden, Invalid
from services.registry.schemas import CreateClient
from shared.auth import BOOTSTRAP_TENANT, hash_api_key
from shared.events import registry as ev
from shared.ledger.store import NO_STREAM, NewEvent

KEY_PREFIX = "clk_"
# The kind of tenant each role's clients must belong to (None: a tenant of
# its own, neither an agency nor an issuer).
TENANT_KIND = {"agency_admin": "agency", "issuer": "issuer", "employer": None, "auditor": None}


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
    stream = f"client:{client_id}"
    return [
        NewEvent(stream, ev.ApiClientCreated(
            client_id=client_id, tenant_id=tenant_id, role=role, name=name,  # type: ignore[arg-type]
            rate_limit_class=rate_limit_class)),
        NewEvent(stream, key.event(client_id)),
    ]


async def create_client(ctx: RegistryContext, caller: Caller, req: CreateClient) -> v.ClientCreated:
    await _check_tenant(ctx, caller, req)
    client_id, key = new_id("client"), new_api_key()
    events = client_events(client_id, req.tenant_id, req.role, req.name, req.rate_limit_class, key)
    positions = await ctx.write(caller, events, {f"client:{client_id}": NO_STREAM})
    client = await lookups.client(ctx.pool, client_id)
    return v.ClientCreated(client=client, key_id=key.key_id, api_key=key.secret, positions=positions)


async def _check_tenant(ctx: RegistryContext, caller: Caller, req: CreateClient) -> None:
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
    if access.is_platform(caller) or kind is None:
        return
    agency = await access.acting_agency(ctx.pool, caller, "create API clients")
    if kind == "agency" and req.tenant_id not in await access.overseen_agencies(ctx.pool, agency):
        raise Forbidden(f"agency {agency.agency_id!r} can create administrator clients only for itself and its"
                         f" sub-agencies, not for {req.tenant_id!r}")
    if kind == "issuer":
        await access.require_issuer_access(ctx.pool, caller, await lookups.issuer(ctx.pool, req.tenant_id),
                                           "create API clients")


async def require_client_access(ctx: RegistryContext, caller: Caller, client: v.ClientView, doing: str) -> None:
    """The platform, or an agency that created the client or oversees its tenant."""
    if access.is_platform(caller):
        return
    agency = await access.acting_agency(ctx.pool, caller, doing)
    overseen = await access.overseen_agencies(ctx.pool, agency)
    tenants = set(overseen) | set(await lookups.issuers_overseen(ctx.pool, overseen))
    if client.created_by not in overseen and client.tenant_id not in tenants:
        raise Forbidden(f"API client {client.client_id!r} belongs to {client.tenant_id!r}, which agency"
                         f" {agency.agency_id!r} neither created nor oversees, so it cannot {doing}")


async def visible_client(ctx: RegistryContext, caller: Caller, client_id: str) -> v.ClientView:
    client = await lookups.client(ctx.pool, client_id)
    if caller.role == "agency_admin":
        await require_client_access(ctx, caller, client, "see this client")
    elif caller.role != "auditor" and caller.tenant != client.tenant_id:
        raise Forbidden(f"API client {client_id!r} belongs to another tenant")
    return client


async def issue_key(ctx: RegistryContext, caller: Caller, client_id: str) -> v.ApiKeyIssuedView:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "issue keys for it")
    if client.revoked_at is not None:
        raise Conflict(f"API client {client_id!r} was revoked at {client.revoked_at}; create a new client")
    key = new_api_key()
    positions = await ctx.write(caller, [NewEvent(f"client:{client_id}", key.event(client_id))],
                                {f"client:{client_id}": client.version})
    return v.ApiKeyIssuedView(client_id=client_id, key_id=key.key_id, api_key=key.secret, positions=positions)


async def revoke_key(ctx: RegistryContext, caller: Caller, client_id: str, key_id: str) -> v.ClientWritten:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "revoke its keys")
    key = next((k for k in client.keys if k.key_id == key_id), None)
    if key is None:
        raise Invalid(f"API client {client_id!r} has no key {key_id!r}")
    if key.revoked_at is not None:
        raise Conflict(f"key {key_id!r} was already revoked at {key.revoked_at}")
    return await _append(ctx, caller, client, ev.ApiKeyRevoked(client_id=client_id, key_id=key_id))


async def revoke_client(ctx: RegistryContext, caller: Caller, client_id: str) -> v.ClientWritten:
    client = await lookups.client(ctx.pool, client_id)
    await require_client_access(ctx, caller, client, "revoke it")
    if client.revoked_at is not None:
        raise Conflict(f"API client {client_id!r} was already revoked at {client.revoked_at}")
    return await _append(ctx, caller, client, ev.ApiClientRevoked(client_id=client_id))


async def _append(ctx: RegistryContext, caller: Caller, client: v.ClientView, event: ev.Event) -> v.ClientWritten:
    stream = f"client:{client.client_id}"
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: client.version})
    return v.ClientWritten(client=await lookups.client(ctx.pool, client.client_id), positions=positions)


async def listing_scope(ctx: RegistryContext, caller: Caller) -> tuple[bool, list[str]]:
    """Whether the caller sees every client, else the tenants whose clients it sees."""
    if access.is_platform(caller) or caller.role == "auditor":
        return True, []
    if caller.role != "agency_admin":
        return False, [caller.tenant]
    overseen = await lookups.agency_and_descendants(ctx.pool, caller.tenant)
    return False, overseen + await lookups.issuers_overseen(ctx.pool, overseen)
