"""Applying status actions to credentials: revoke, suspend, reinstate, flag.

Used by the HTTP commands and by the cascades alike. A credential's current
status and version come from its ledger stream, not from the read model, so
a decision never rests on a projection that is a few events behind, and the
append names the version it decided on: of two conflicting actions racing
for one credential, exactly one is appended.

The new statuses are written through to the read model in the same
transaction, tagged with their stream versions, so the status lists can be
republished without waiting for the events to come back through the broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import asyncpg
import msgspec

from shared.credential_status import Action, Status, fold, next_status
from shared.db.sql import load_queries
from shared.events.credentials import (
    Cause,
    CredentialFlaggedForReview,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    ReasonCode,
    credential_stream,
)
from shared.ledger.eventstore import readers as ledger_readers
from shared.ledger.eventstore.events import Event, Metadata, decode_payload
from shared.ledger.eventstore.sequencer import Settle, Stage
from shared.ledger.eventstore.store import AppendConflict, Ledger, NewEvent
from shared.timeutil import parse_time

QUERIES = load_queries("services.revocation")

RejectionKind = Literal["unknown", "not_applicable", "already_applied"]
CAUSED_EVENTS = [CredentialRevoked.event_type, CredentialSuspended.event_type, CredentialFlaggedForReview.event_type]


@dataclass(frozen=True, slots=True)
class StatusChange:
    credential_id: str  # "urn:uuid:..."
    action: Action
    reason: str
    reason_code: ReasonCode = "other"  # flags carry no code
    cause: Cause | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    change: StatusChange
    # None for a credential the caller may not see (or that does not exist).
    previous_status: Status | None
    status: Status | None
    position: int | None = None
    version: int | None = None  # of the credential's stream, after this change
    rejection: RejectionKind | None = None

    @property
    def applied(self) -> bool:
        return self.rejection is None


@dataclass(frozen=True, slots=True)
class _Stream:
    status: Status | None
    version: int


MayAct = Callable[[str], bool]  # issuer id -> may the caller act on its credentials?


def _anyone(issuer_id: str) -> bool:
    return True


class StatusChanger:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def apply(
        self, conn: asyncpg.Connection, changes: Sequence[StatusChange], metadata: Metadata,
        may_act: MayAct = _anyone,
    ) -> list[Outcome]:
        """Apply `changes` in order, in the caller's transaction; one outcome each.

        A change that does not apply is rejected, never written; the others
        are appended together.
        """
        ids = list(dict.fromkeys(c.credential_id for c in changes))
        caused = list(dict.fromkeys(c.credential_id for c in changes if c.cause is not None))
        for attempt in range(2):
            issuers, unprojected = await _issuers_of(conn, ids)
            if unprojected and not attempt:
                await self._fill(unprojected)
            streams = await _streams_of(conn, ids)
            recorded = await _recorded_causes(conn, caused) if caused else set()
            outcomes, events, expected = _plan(changes, issuers, streams, recorded, may_act)
            try:
                positions = iter(await self._ledger.append_in(conn, events, metadata, expected))
            except AppendConflict:
                if attempt:
                    raise
                # Someone appended since we read; append_in holds the append
                # lock now, so the second read cannot be overtaken again.
                continue
            outcomes = [replace(o, position=next(positions)) if o.applied else o for o in outcomes]
            await _write_through(conn, outcomes)
            return outcomes
        raise AssertionError("unreachable")

    async def apply_grouped(
        self, changes: Sequence[StatusChange], metadata: Metadata, may_act: MayAct = _anyone, *,
        stage: Before | None = None, settle: OutcomesSettle | None = None,
    ) -> list[Outcome]:
        """`apply` in a transaction of the ledger's group commit, for small
        requests: the decision is read without the append lock and names the
        versions it read, so a concurrent change makes it read again.

        `stage(conn)` and `settle(conn, outcomes)` add the caller's writes to
        the same transaction, before the append and after it (with positions).
        """
        ids = list(dict.fromkeys(c.credential_id for c in changes))
        caused = list(dict.fromkeys(c.credential_id for c in changes if c.cause is not None))
        for attempt in range(GROUPED_ATTEMPTS):
            async with self._ledger.pool.acquire() as conn:
                issuers, unprojected = await _issuers_of(conn, ids)
                streams = await _streams_of(conn, ids)
                recorded = await _recorded_causes(conn, caused) if caused else set()
            if unprojected and not attempt:
                await self._fill(unprojected)
            outcomes, events, expected = _plan(changes, issuers, streams, recorded, may_act)
            if not events:
                return outcomes
            try:
                positions = await self._ledger.append(
                    events, metadata, expected, stage=_staging(outcomes, events, stage),
                    settle=_settling(outcomes, settle))
            except AppendConflict:
                if attempt == GROUPED_ATTEMPTS - 1:
                    raise
                continue
            return _positioned(outcomes, positions)
        raise AssertionError("unreachable")

    async def _fill(self, issued: list[CredentialIssued]) -> None:
        """Add credentials the read model has not reached yet (just issued,
        or right after a start while its consumer joins) from their ledger
        events, so the status change written through below marks their lists
        now instead of when the projection gets there. Committed on its own
        before the append lock is taken; a row the projection is inserting
        at this moment is left to it rather than waited for."""
        try:
            async with self._ledger.pool.acquire() as conn, conn.transaction():
                await conn.execute(QUERIES["fill_lock_timeout"])
                await conn.executemany(QUERIES["insert_credential"], [credential_row(e) for e in issued])
        except asyncpg.LockNotAvailableError:
            pass


# A conflict means another change to the same credential won the race; a
# few re-reads settle it, each seeing the winner.
GROUPED_ATTEMPTS = 4
Before = Callable[[asyncpg.Connection], Awaitable[None]]
OutcomesSettle = Callable[[asyncpg.Connection, list[Outcome]], Awaitable[None]]


def _positioned(outcomes: list[Outcome], positions: list[int]) -> list[Outcome]:
    pending = iter(positions)
    return [replace(o, position=next(pending)) if o.applied else o for o in outcomes]


def _staging(outcomes: list[Outcome], events: list[NewEvent], stage: Before | None) -> Stage:
    async def staged(conn: asyncpg.Connection) -> list[NewEvent]:
        if stage is not None:
            await stage(conn)
        await _write_through(conn, outcomes)  # versions only: positions are not needed
        return events

    return staged


def _settling(outcomes: list[Outcome], settle: OutcomesSettle | None) -> Settle | None:
    if settle is None:
        return None

    async def settled(conn: asyncpg.Connection, positions: list[int]) -> None:
        await settle(conn, _positioned(outcomes, positions))

    return settled


def credential_row(e: CredentialIssued) -> tuple:
    """The insert_credential arguments of an issued credential (the first status entry of each purpose)."""
    entries = {entry.purpose: entry for entry in reversed(e.status)}
    revocation, suspension = entries.get("revocation"), entries.get("suspension")
    return (e.credential_id, e.issuer_id, e.achievement_id, e.key_id, e.learner_hash, parse_time(e.issued_at),
            e.pathway_id, e.components, revocation and revocation.list_id, revocation and revocation.index,
            suspension and suspension.list_id, suspension and suspension.index)


async def _write_through(conn: asyncpg.Connection, outcomes: Sequence[Outcome]) -> None:
    latest = {o.change.credential_id: o for o in outcomes if o.applied}
    if latest:
        await conn.execute(QUERIES["write_through_statuses"], list(latest), [o.status for o in latest.values()],
                           [o.version for o in latest.values()])


def _plan(
    changes: Sequence[StatusChange], issuers: dict[str, str], streams: dict[str, _Stream],
    recorded_causes: set[tuple[str, Cause]], may_act: MayAct,
) -> tuple[list[Outcome], list[NewEvent], dict[str, int]]:
    status = {cid: s.status for cid, s in streams.items()}
    version = {cid: s.version for cid, s in streams.items()}
    outcomes: list[Outcome] = []
    events: list[NewEvent] = []
    expected: dict[str, int] = {}
    for change in changes:
        cid = change.credential_id
        issuer = issuers.get(cid)
        current = status.get(cid)
        if issuer is None or current is None or not may_act(issuer):
            outcomes.append(Outcome(change, None, None, rejection="unknown"))
            continue
        if change.cause is not None and (cid, change.cause) in recorded_causes:
            # A cascade replayed (a rebuilt read model): its event is in the ledger.
            outcomes.append(Outcome(change, current, current, rejection="already_applied"))
            continue
        after = next_status(change.action, current)
        if after is None:
            outcomes.append(Outcome(change, current, current, rejection="not_applicable"))
            continue
        stream = credential_stream(cid)
        expected.setdefault(stream, streams[cid].version)
        events.append(NewEvent(stream, _event_for(change)))
        status[cid], version[cid] = after, version[cid] + 1
        outcomes.append(Outcome(change, current, after, version=version[cid]))
    return outcomes, events, expected


def _event_for(change: StatusChange) -> Event:
    cid, reason = change.credential_id, change.reason
    match change.action:
        case "revoke":
            return CredentialRevoked(credential_id=cid, reason_code=change.reason_code, reason=reason,
                                     cause=change.cause)
        case "suspend":
            return CredentialSuspended(credential_id=cid, reason_code=change.reason_code, reason=reason,
                                       cause=change.cause)
        case "reinstate":
            return CredentialReinstated(credential_id=cid, reason_code=change.reason_code, reason=reason)
        case "flag":
            if change.cause is None:
                raise ValueError("a flag for review must name its cause")
            return CredentialFlaggedForReview(credential_id=cid, reason=reason, cause=change.cause)


async def _issuers_of(conn: asyncpg.Connection, ids: list[str]) -> tuple[dict[str, str], list[CredentialIssued]]:
    """Issuer of each credential: from the read model, or for one issued so
    recently that the read model has not caught up, from its ledger event
    (those events are returned too)."""
    issuers = {r["credential_id"]: r["issuer_id"] for r in await conn.fetch(QUERIES["issuers_of"], ids)}
    missing = {credential_stream(cid): cid for cid in ids if cid not in issuers}
    unprojected: list[CredentialIssued] = []
    if missing:
        for first in await ledger_readers.first_events(conn, list(missing)):
            if first.event_type == CredentialIssued.event_type:
                event = decode_payload(first.payload, CredentialIssued)
                issuers[missing[first.stream_id]] = event.issuer_id
                unprojected.append(event)
    return issuers, unprojected


class _Caused(msgspec.Struct):
    credential_id: str
    cause: Cause | None = None


_CAUSED = msgspec.json.Decoder(_Caused)


async def _recorded_causes(conn: asyncpg.Connection, ids: list[str]) -> set[tuple[str, Cause]]:
    """(credential, cause) of every automatic status change already in the ledger."""
    payloads = await ledger_readers.payloads_of_types(conn, [credential_stream(cid) for cid in ids], CAUSED_EVENTS)
    return {(e.credential_id, e.cause) for e in map(_CAUSED.decode, payloads) if e.cause}


async def _streams_of(conn: asyncpg.Connection, ids: list[str]) -> dict[str, _Stream]:
    by_stream = {credential_stream(cid): cid for cid in ids}
    event_types: dict[str, list[str]] = {}
    versions: dict[str, int] = {}
    for row in await ledger_readers.stream_event_types(conn, list(by_stream)):
        cid = by_stream[row.stream_id]
        event_types.setdefault(cid, []).append(row.event_type)
        versions[cid] = row.version
    return {cid: _Stream(fold(types), versions[cid]) for cid, types in event_types.items()}
