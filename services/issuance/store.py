"""The issuance tables and the ledger reads the service needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from services.issuance.learners import key_families
from shared.credential_status import after_event
from shared.db.sql import load_queries
from shared.events.credentials import CredentialIssued, credential_stream
from shared.ledger.eventstore import readers as ledger_readers
from shared.ledger.eventstore.events import decode_payload

QUERIES = load_queries("services.issuance")
Executor = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """A credential as the issuance table knows it (the document is in the ledger)."""

    credential_id: str
    issuer_id: str
    issuer_reference: str | None
    achievement_id: str
    learner_hash: str
    learner_key: str
    identity_type: str
    identity_salt: str
    holder_token_hash: str
    key_id: str
    signing: str
    pathway_id: str | None
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    status: str = "active"

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> CredentialRow:
        return cls(**dict(record))

    def as_columns(self) -> tuple[object, ...]:
        return (
            self.credential_id, self.issuer_id, self.issuer_reference, self.achievement_id, self.learner_hash,
            self.learner_key, self.identity_type, self.identity_salt, self.holder_token_hash, self.key_id, self.signing,
            self.pathway_id, self.valid_from, self.valid_until,
        )


@dataclass(frozen=True, slots=True)
class TakenReference:
    credential_id: str
    achievement_id: str
    learner_hash: str
    learner_key: str


async def references_taken(db: Executor, issuer_id: str, references: Sequence[str]) -> dict[str, TakenReference]:
    rows = await db.fetch(QUERIES["references_taken"], issuer_id, list(references))
    return {r["issuer_reference"]: TakenReference(r["credential_id"], r["achievement_id"], r["learner_hash"],
                                                   r["learner_key"])
            for r in rows}


async def claim_credentials(conn: asyncpg.Connection, rows: Sequence[CredentialRow]) -> set[str]:
    """Insert the rows whose issuer reference is still free; return their ids."""
    ordered = sorted(rows, key=lambda row: (row.issuer_reference or "", row.credential_id))
    columns = list(zip(*(row.as_columns() for row in ordered), strict=True))
    inserted = await conn.fetch(QUERIES["claim_credentials"], *(list(c) for c in columns))
    return {r["credential_id"] for r in inserted}


# From this many superseded keys on, a claim re-keys in a statement of its
# own (rekey_superseded), skipped when no row of their families remains:
# for one request or a group of single ones that costs more planning than
# the few index probes claim_issued's own re-keying makes.
PROBED_FROM = 256


async def claim_issued(
    conn: asyncpg.Connection, rows: Sequence[CredentialRow], superseded: Sequence[tuple[str, str]],
    contacts: Mapping[str, bytes],
) -> set[str]:
    """`rekey_learners`, `claim_credentials` and keeping the contacts (learner
    key -> sealed address) of the claimed rows' learners, in one statement
    (the re-keying of a large group in one before it)."""
    if len(superseded) >= PROBED_FROM:
        await conn.execute(QUERIES["rekey_superseded"], *rekey_superseded_arguments(superseded))
        superseded = ()
    inserted = await conn.fetch(QUERIES["claim_issued"], *_claim_arguments(rows, superseded, contacts))
    return {r["credential_id"] for r in inserted}


async def claim_and_append(
    conn: asyncpg.Connection, rows: Sequence[CredentialRow], superseded: Sequence[tuple[str, str]],
    contacts: Mapping[str, bytes], responses: Sequence[tuple[str, str, StoredResponse]],
    append_arguments: Sequence[list[object]],
) -> asyncpg.Record:
    """`claim_issued` of every row, the stored responses ((client, key,
    response) triples) and the append, as one statement outside a
    transaction: all committed, or an error and nothing written."""
    # Sorted, so concurrent groups take the keys' index locks in one order (no deadlock).
    ordered = sorted(responses, key=lambda response: (response[0], response[1]))
    clients, keys, stored = ([list(c) for c in zip(*ordered, strict=True)] if ordered else ([], [], []))
    row = await conn.fetchrow(QUERIES["claim_and_append"], *_claim_arguments(rows, superseded, contacts),
                              clients, keys, [s.fingerprint for s in stored], [s.outcomes for s in stored],
                              *append_arguments)
    assert row is not None  # the function returns one row, always
    return row


def _claim_arguments(
    rows: Sequence[CredentialRow], superseded: Sequence[tuple[str, str]], contacts: Mapping[str, bytes],
) -> list[list[object]]:
    ordered = sorted(rows, key=lambda row: (row.issuer_reference or "", row.credential_id))
    columns = [list(c) for c in zip(*(row.as_columns() for row in ordered), strict=True)]
    old, new = ([list(c) for c in zip(*superseded, strict=True)] if superseded else ([], []))
    keys = sorted(contacts)
    return [*columns, old, new, keys, [contacts[k] for k in keys]]


def rekey_superseded_arguments(superseded: Sequence[tuple[str, str]]) -> list[list[str]]:
    old, new = ([list(c) for c in zip(*superseded, strict=True)] if superseded else ([], []))
    families = key_families(old)
    return [old, new, [first for first, _ in families], [bound for _, bound in families]]


async def credential(db: Executor, credential_id: str) -> CredentialRow | None:
    record = await db.fetchrow(QUERIES["credential"], credential_id)
    return CredentialRow.from_record(record) if record else None


async def credentials_by_id(db: Executor, credential_ids: Sequence[str]) -> dict[str, CredentialRow]:
    records = await db.fetch(QUERIES["credentials_by_id"], list(credential_ids))
    return {r["credential_id"]: CredentialRow.from_record(r) for r in records}


async def credentials_of_learner(db: Executor, learner_key: str) -> list[CredentialRow]:
    return [CredentialRow.from_record(r) for r in await db.fetch(QUERIES["credentials_of_learner"], learner_key)]


async def issuer_knows_learner(db: Executor, learner_key: str, issuer_id: str) -> bool:
    return await db.fetchval(QUERIES["issuer_knows_learner"], learner_key, issuer_id)


async def rekey_learners(conn: asyncpg.Connection, superseded: Sequence[tuple[str, str]]) -> None:
    """Move rows from superseded learner keys to current ones: (old, new) pairs."""
    if superseded:
        old, new = (list(column) for column in zip(*superseded, strict=True))
        await conn.execute(QUERIES["rekey_credentials"], old, new)
        await conn.execute(QUERIES["rekey_stacks"], old, new)


async def issued_positions(db: Executor, credential_ids: Sequence[str]) -> dict[str, int]:
    """The ledger position of each credential's CredentialIssued event."""
    streams = {credential_stream(cid): cid for cid in credential_ids}
    return {streams[e.stream_id]: e.position for e in await ledger_readers.first_events(db, list(streams))}


async def issued_event(db: Executor, credential_id: str) -> tuple[int, CredentialIssued] | None:
    found = await ledger_readers.first_events(db, [credential_stream(credential_id)])
    if not found:
        return None
    return found[0].position, decode_payload(found[0].payload, CredentialIssued)


async def apply_status_event(conn: asyncpg.Connection, credential_id: str, event_type: str) -> None:
    """Move the credential's status through the one status table."""
    current = await conn.fetchval(QUERIES["credential_status"], credential_id)
    if current is not None and (after := after_event(current, event_type)) != current:
        await conn.execute(QUERIES["set_status"], credential_id, after)


@dataclass(frozen=True, slots=True)
class StackRow:
    stack_id: str
    pathway_id: str
    learner_hash: str  # the award's identityHash
    learner_key: str
    award_credential_id: str
    component_ids: list[str]
    automatic: bool


async def claim_stack(conn: asyncpg.Connection, stack: StackRow) -> bool:
    claimed = await conn.fetchval(QUERIES["claim_stack"], stack.stack_id, stack.pathway_id, stack.learner_hash,
                                  stack.learner_key, stack.award_credential_id, stack.component_ids, stack.automatic)
    return claimed is not None


async def stack_rounds(db: Executor, pathway_id: str, learner_key: str) -> list[tuple[str, bool]]:
    """(stack id, award revoked?) for each award of this pathway to this learner."""
    return [(r["stack_id"], r["revoked"]) for r in await db.fetch(QUERIES["stack_rounds"], pathway_id, learner_key)]


async def stacks_of_learner(db: Executor, learner_key: str) -> dict[str, str]:
    """pathway id -> award credential id."""
    return {r["pathway_id"]: r["award_credential_id"]
            for r in await db.fetch(QUERIES["stacks_of_learner"], learner_key)}


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: bytes
    outcomes: bytes  # JSON list of ItemOutcome, holder tokens left out


async def idempotent_response(db: Executor, client_id: str, key: str) -> StoredResponse | None:
    row = await db.fetchrow(QUERIES["idempotent_response"], client_id, key)
    return StoredResponse(bytes(row["fingerprint"]), bytes(row["response"])) if row else None


async def save_idempotent_response(
    conn: asyncpg.Connection, client_id: str, key: str, stored: StoredResponse
) -> bool:
    """False when a concurrent request with the same key committed first."""
    saved = await conn.fetchval(QUERIES["save_idempotent_response"], client_id, key,
                                stored.fingerprint, stored.outcomes)
    return saved is not None
