"""Issuers and their signing keys.

Keys are never deleted or replaced: rotation adds a key and ends the old
one's window, compromise records from when its signatures are invalid, so
every credential signed while its key was good still verifies. A hosted
key's private half is generated here, sealed with the master key in the
same transaction as the event that publishes its public half, and never
leaves the vault through this service (not in answers, not in logs).
"""

from __future__ import annotations

import datetime as dt
import os

import asyncpg

from services.registry import access, lookups, rules
from services.registry import views as v
from services.registry.context import Caller, ExtraWrite, RegistryContext, new_id
from services.registry.lookups import QUERIES
from services.registry.schemas import AddKey, CompromiseKey, RegisterIssuer, RotateKey, UpdateIssuer
from shared.credential_format import issuer_did
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_seed
from shared.crypto.multibase import multibase_to_public_key, public_key_to_multibase
from shared.events import registry as ev
from shared.events.registry import issuer_stream
from shared.key_vault import KeyVault
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid, NotFound
from shared.timeutil import format_time, now

SEED_BYTES = 32


def window_end(moment: dt.datetime) -> dt.datetime:
    """A retired key's window ends at the next whole second, not the previous
    one: event times have second precision, and rounding down would
    invalidate what the key signed in the last fraction of a second. The
    successor's window starts at the previous whole second, so the two
    overlap by under a second instead of leaving a gap."""
    rounded = moment.replace(microsecond=0)
    return rounded if rounded == moment else rounded + dt.timedelta(seconds=1)


async def register_issuer(ctx: RegistryContext, caller: Caller, req: RegisterIssuer) -> v.IssuerWritten:
    agency = await access.acting_agency(ctx.pool, caller, "register issuers")
    if not rules.jurisdiction_covers(agency.jurisdiction, req.country):
        raise Forbidden(f"agency {agency.agency_id!r} ({agency.jurisdiction}) cannot register an issuer"
                         f" in {req.country}: that is outside its jurisdiction")
    delegations = await access.require_in_force(ctx.pool, agency, "register issuers")
    issuer_id = req.issuer_id or new_id("issuer")
    event = ev.IssuerRegistered(
        issuer_id=issuer_id, registered_by=agency.agency_id, legal_name=req.legal_name, country=req.country,
        did=issuer_did(ctx.public_base_url, issuer_id), homepage=req.homepage, email=req.email,
        identifiers=req.identifiers,
    )
    positions = await ctx.write(caller, [NewEvent(issuer_stream(issuer_id), event)],
                                {issuer_stream(issuer_id): NO_STREAM, **delegations})
    return v.IssuerWritten(issuer=await lookups.issuer(ctx.pool, issuer_id), positions=positions)


async def update_issuer(ctx: RegistryContext, caller: Caller, issuer_id: str, req: UpdateIssuer) -> v.IssuerWritten:
    issuer = await lookups.issuer(ctx.pool, issuer_id)
    await access.require_issuer_access(ctx.pool, caller, issuer, "PATCH /v1/issuers/{issuer_id}", "update the profile")
    event = ev.IssuerUpdated(
        issuer_id=issuer_id,
        legal_name=issuer.legal_name if req.legal_name is None else req.legal_name,
        homepage=issuer.homepage if req.homepage is None else req.homepage,
        email=issuer.email if req.email is None else req.email,
    )
    if (event.legal_name, event.homepage, event.email) == (issuer.legal_name, issuer.homepage, issuer.email):
        raise Invalid("the request changes nothing: send legal_name, homepage or email with a new value")
    stream = issuer_stream(issuer_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: issuer.version})
    return v.IssuerWritten(issuer=await lookups.issuer(ctx.pool, issuer_id), positions=positions)


async def issuer_profile(ctx: RegistryContext, issuer_id: str) -> v.IssuerProfile:
    issuer = await lookups.issuer(ctx.pool, issuer_id)
    accreditations = await lookups.accreditations_of(ctx.pool, "issuer", issuer_id)
    keys = [lookups.key_view(row, issuer.did) for row in await lookups.issuer_key_rows(ctx.pool, issuer_id)]
    return v.IssuerProfile(**{f: getattr(issuer, f) for f in issuer.__struct_fields__},
                           accreditations=accreditations, keys=keys)


# -- keys -------------------------------------------------------------------------

async def _issuer_for_keys(ctx: RegistryContext, caller: Caller, issuer_id: str) -> tuple[v.IssuerView, list]:
    issuer = await lookups.issuer(ctx.pool, issuer_id)
    await access.require_issuer_access(ctx.pool, caller, issuer, "POST /v1/issuers/{issuer_id}/keys", "manage the keys")
    return issuer, await lookups.issuer_key_rows(ctx.pool, issuer_id)


def _free_key_id(wanted: str | None, rows: list) -> str:
    taken = {row["key_id"] for row in rows}
    if wanted is not None:
        if wanted in taken:
            raise Conflict(f"this issuer already has a key {wanted!r};"
                                " keys are never replaced, choose a new key id")
        return wanted
    numbers = [int(k[4:]) for k in taken if k.startswith("key-") and k[4:].isdigit()]
    return f"key-{max(numbers, default=0) + 1}"


async def store_hosted_key(conn: asyncpg.Connection, vault: KeyVault, issuer_id: str, key_id: str, seed: bytes) -> None:
    """Seal and keep a hosted key's seed: only the registry writes hosted keys."""
    await conn.execute(QUERIES["store_hosted_key"], issuer_id, key_id, vault.seal(issuer_id, key_id, seed))


async def _new_public_key(
    ctx: RegistryContext, issuer_id: str, key_id: str, custody: str, public_key_multibase: str | None
) -> tuple[str, ExtraWrite | None]:
    """The key's public Multikey and, for a hosted key, the write that seals its seed."""
    if custody == "hosted":
        if public_key_multibase is not None:
            raise Invalid("a hosted key is generated by the registry: do not send public_key_multibase")
        vault, seed = ctx.vault(), os.urandom(SEED_BYTES)
        public = public_key_to_multibase(raw_public_key(signing_key_from_seed(seed)))

        async def seal(conn) -> None:
            await store_hosted_key(conn, vault, issuer_id, key_id, seed)

        return public, seal
    if public_key_multibase is None:
        raise Invalid("an issuer-held key needs public_key_multibase: the Ed25519 public key as a Multikey ('z6Mk...')")
    try:
        multibase_to_public_key(public_key_multibase)
    except ValueError as exc:
        raise Invalid(f"public_key_multibase is not an Ed25519 Multikey: {exc}") from None
    owner = await lookups.key_owner(ctx.pool, public_key_multibase)
    if owner is not None:
        raise Conflict(f"this public key is already registered (issuer {owner[0]!r}, key {owner[1]!r});"
                            " a key serves one issuer under one id")
    return public_key_multibase, None


async def _key_written(ctx: RegistryContext, issuer: v.IssuerView, key_id: str, positions: list[int],
                       retired: str | None = None) -> v.KeyWritten:
    rows = await lookups.issuer_key_rows(ctx.pool, issuer.issuer_id)
    row = next(r for r in rows if r["key_id"] == key_id)
    return v.KeyWritten(key=lookups.key_view(row, issuer.did), retired_key_id=retired, positions=positions)


async def add_key(ctx: RegistryContext, caller: Caller, issuer_id: str, req: AddKey) -> v.KeyWritten:
    issuer, rows = await _issuer_for_keys(ctx, caller, issuer_id)
    moment = now()
    valid_from = req.valid_from or moment
    problem = rules.window_problem(valid_from, req.valid_until, moment)
    if problem:
        raise Invalid(problem)
    key_id = _free_key_id(req.key_id, rows)
    public, seal = await _new_public_key(ctx, issuer_id, key_id, req.custody, req.public_key_multibase)
    added = ev.IssuerKeyAdded(issuer_id=issuer_id, key_id=key_id, public_key_multibase=public, custody=req.custody,
                              valid_from=format_time(valid_from),
                              valid_until=format_time(req.valid_until) if req.valid_until else None)
    stream = issuer_stream(issuer_id)
    positions = await ctx.write(caller, [NewEvent(stream, added)], {stream: issuer.version}, seal)
    return await _key_written(ctx, issuer, key_id, positions)


def _existing_key(rows: list, key_id: str) -> dict:
    row = next((r for r in rows if r["key_id"] == key_id), None)
    if row is None:
        raise NotFound(f"this issuer has no key {key_id!r}")
    return dict(row)


def _require_window_open(row: dict, end: dt.datetime, doing: str) -> None:
    if row["valid_until"] is not None and row["valid_until"] <= end:
        raise Conflict(f"key {row['key_id']!r}'s window already ended at {format_time(row['valid_until'])};"
                            f" there is nothing to {doing}")


async def rotate_key(ctx: RegistryContext, caller: Caller, issuer_id: str, key_id: str, req: RotateKey) -> v.KeyWritten:
    issuer, rows = await _issuer_for_keys(ctx, caller, issuer_id)
    moment = now()
    _require_window_open(_existing_key(rows, key_id), window_end(moment), "rotate")
    new_key_id = _free_key_id(req.new_key_id, rows)
    public, seal = await _new_public_key(ctx, issuer_id, new_key_id, req.custody, req.public_key_multibase)
    stream = issuer_stream(issuer_id)
    events = [
        NewEvent(stream, ev.IssuerKeyAdded(issuer_id=issuer_id, key_id=new_key_id, public_key_multibase=public,
                                           custody=req.custody, valid_from=format_time(moment))),
        NewEvent(stream, ev.IssuerKeyRetired(issuer_id=issuer_id, key_id=key_id,
                                             valid_until=format_time(window_end(moment)))),
    ]
    positions = await ctx.write(caller, events, {stream: issuer.version}, seal)
    return await _key_written(ctx, issuer, new_key_id, positions, retired=key_id)


async def retire_key(ctx: RegistryContext, caller: Caller, issuer_id: str, key_id: str) -> v.KeyWritten:
    issuer, rows = await _issuer_for_keys(ctx, caller, issuer_id)
    end = window_end(now())
    _require_window_open(_existing_key(rows, key_id), end, "retire")
    event = ev.IssuerKeyRetired(issuer_id=issuer_id, key_id=key_id, valid_until=format_time(end))
    stream = issuer_stream(issuer_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: issuer.version})
    return await _key_written(ctx, issuer, key_id, positions)


async def compromise_key(
    ctx: RegistryContext, caller: Caller, issuer_id: str, key_id: str, req: CompromiseKey
) -> v.KeyWritten:
    issuer, rows = await _issuer_for_keys(ctx, caller, issuer_id)
    row = _existing_key(rows, key_id)
    if row["compromised_at"] is not None:
        raise Conflict(f"key {key_id!r} was already reported compromised as of"
                            f" {format_time(row['compromised_at'])}")
    if req.compromised_at > now() + rules.CLOCK_SKEW:
        raise Invalid("compromised_at cannot be in the future; report a compromise once it has happened")
    event = ev.IssuerKeyCompromised(issuer_id=issuer_id, key_id=key_id, compromised_at=format_time(req.compromised_at),
                                    reason=req.reason)
    stream = issuer_stream(issuer_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: issuer.version})
    return await _key_written(ctx, issuer, key_id, positions)
