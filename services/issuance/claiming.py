"""What a hosted issuance writes before its credentials are appended.

A request's claim (its issuer references in the issuance table, its
learners' re-keyed rows and sealed contacts, and its idempotent response)
is a stage of the ledger's group commit (shared/ledger/eventstore/
sequencer.py): it commits exactly when the request's events do. The claims
of all the requests in one group run together: one statement claims every
reference of the group (`claim_together`), so a group of 50 single-credential
requests pays one round trip where it paid four per request. What is
particular to one request (references raced by another request, its stored
response) is then settled per request, and a failure there is its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from services.issuance import store
from services.issuance.contacts import Contacts
from services.issuance.learners import rekeyings, same_learner
from services.issuance.schemas import ItemOutcome
from services.issuance.store import CredentialRow, StoredResponse, TakenReference
from shared.db.pool import Connection
from shared.ledger.eventstore.sequencer import Together
from shared.ledger.eventstore.store import NewEvent
from shared.refusals import Conflict, Refusal

if TYPE_CHECKING:
    from services.issuance.issuing import Candidate


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    client_id: str
    key: str
    fingerprint: bytes


class IdempotencyRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


def rejected(index: int, reference: str, refusal: Refusal) -> ItemOutcome:
    return ItemOutcome(index=index, reference=reference, outcome="rejected", refusal=refusal.record())


def issued_outcome(candidate: Candidate, position: int | None) -> ItemOutcome:
    return ItemOutcome(index=candidate.index, reference=candidate.request.reference, outcome="issued",
                       credential_id=candidate.credential_id, position=position,
                       learner_hash=candidate.learner.learner_hash, learner_key=candidate.learner.learner_key)


def existing_or_conflict(candidate: Candidate, taken: TakenReference, position: int | None) -> ItemOutcome:
    """A reference already used: the same credential again, or a clash."""
    request = candidate.request
    if taken.achievement_id != request.achievement_id or not same_learner(candidate.learner, taken.learner_key):
        return rejected(candidate.index, request.reference, Conflict(
            f"reference {request.reference!r} was already used for credential {taken.credential_id}, issued"
            " for a different achievement or learner",
            code="reference-conflict", title="The reference identifies another credential"))
    return ItemOutcome(index=candidate.index, reference=request.reference, outcome="existing",
                       credential_id=taken.credential_id, position=position, learner_hash=taken.learner_hash,
                       learner_key=candidate.learner.learner_key)


@dataclass(slots=True)
class Claim:
    """One request's stage: called alone, or with the group's other claims
    through `together`. `staged` is filled in from `decided` (the outcomes
    known before: rejected and existing items) each time the stage runs, as
    a group written again runs its stages again from scratch."""

    issuer_id: str
    candidates: list[Candidate]
    rows: list[CredentialRow]
    events: dict[str, NewEvent]
    decided: dict[int, ItemOutcome]
    idempotency: IdempotencyRecord | None
    contacts: Contacts
    staged: dict[int, ItemOutcome] = field(default_factory=dict)

    async def __call__(self, conn: asyncpg.Connection) -> Sequence[NewEvent]:
        [outcome] = await claim_together(conn, [self])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @property
    def together(self) -> Together:
        return claim_together

    async def settle_claimed(self, conn: asyncpg.Connection, claimed: set[str]) -> list[NewEvent]:
        """The outcomes and events of this request, given what the group claimed."""
        self.staged = dict(self.decided)
        for candidate in self.candidates:
            if candidate.credential_id in claimed:
                # The position is known only once appended; a replay reads it from the ledger.
                self.staged[candidate.index] = issued_outcome(candidate, None)
        losers = [c for c in self.candidates if c.credential_id not in claimed]
        if losers:
            await report_raced(conn, self.issuer_id, losers, self.staged)
        if self.idempotency is not None:
            await save_response(conn, self.idempotency, self.staged)
        return [self.events[c.credential_id] for c in self.candidates if c.credential_id in claimed]


async def claim_together(conn: Connection, claims: Sequence[Claim]) -> list[Sequence[NewEvent] | Exception]:
    """Every claim of a group in one statement, then each request's own part."""
    learners = [c.learner for claim in claims for c in claim.candidates]
    claimed = await store.claim_issued(conn, [row for claim in claims for row in claim.rows],
                                       sorted(set(rekeyings(learners))), claims[0].contacts.sealed(learners))
    outcomes: list[Sequence[NewEvent] | Exception] = []
    for claim in claims:
        try:
            outcomes.append(await claim.settle_claimed(conn, claimed))
        except IdempotencyRace as race:  # this request's failure, not the group's
            outcomes.append(race)
    return outcomes


async def report_raced(
    conn: asyncpg.Connection, issuer_id: str, losers: list[Candidate], outcomes: dict[int, ItemOutcome],
) -> None:
    """References a concurrent request claimed while this one was signing."""
    taken = await store.references_taken(conn, issuer_id, [c.request.reference for c in losers])
    positions = await store.issued_positions(conn, [t.credential_id for t in taken.values()])
    for candidate in losers:
        previous = taken[candidate.request.reference]
        outcomes[candidate.index] = existing_or_conflict(candidate, previous, positions.get(previous.credential_id))


async def save_response(
    conn: asyncpg.Connection, idempotency: IdempotencyRecord, outcomes: dict[int, ItemOutcome],
) -> None:
    stored = StoredResponse(idempotency.fingerprint, msgspec.json.encode([outcomes[i] for i in sorted(outcomes)]))
    if not await store.save_idempotent_response(conn, idempotency.client_id, idempotency.key, stored):
        raise IdempotencyRace()
