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

A group small enough for one append call is first tried whole
(`claim_and_append`): as if every reference were free and every
Idempotency-Key new, its claims, responses and append are one statement that
commits as it returns, so a lone request is one round trip. When a reference
or key was taken, Postgres rolls it all back and the group is claimed as
above, where each request hears of its own race.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from shared.ledger.eventstore.sequencer import Fused, Together
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

    @property
    def fused(self) -> Fused:
        return claim_and_append

    def stage_claimed(self, claimed: set[str]) -> list[Candidate]:
        """Fill in `staged` from what the group claimed; the candidates that lost their reference."""
        self.staged = dict(self.decided)
        for candidate in self.candidates:
            if candidate.credential_id in claimed:
                # The position is known only once appended; a replay reads it from the ledger.
                self.staged[candidate.index] = issued_outcome(candidate, None)
        return [c for c in self.candidates if c.credential_id not in claimed]

    async def settle_claimed(self, conn: asyncpg.Connection, claimed: set[str]) -> list[NewEvent]:
        """The outcomes and events of this request, given what the group claimed."""
        losers = self.stage_claimed(claimed)
        if losers:
            await report_raced(conn, self.issuer_id, losers, self.staged)
        if self.idempotency is not None:
            await save_response(conn, self.idempotency, self.staged)
        return [self.events[c.credential_id] for c in self.candidates if c.credential_id in claimed]


def _claim_columns(claims: Sequence[Claim]) -> tuple[list[CredentialRow], list[tuple[str, str]], Mapping[str, bytes]]:
    """What claim_issued takes for the whole group: rows, re-keyings, sealed contacts."""
    learners = [c.learner for claim in claims for c in claim.candidates]
    return ([row for claim in claims for row in claim.rows], sorted(set(rekeyings(learners))),
            claims[0].contacts.sealed(learners))


async def claim_together(conn: Connection, claims: Sequence[Claim]) -> list[Sequence[NewEvent] | Exception]:
    """Every claim of a group in one statement, then each request's own part."""
    claimed = await store.claim_issued(conn, *_claim_columns(claims))
    outcomes: list[Sequence[NewEvent] | Exception] = []
    for claim in claims:
        try:
            outcomes.append(await claim.settle_claimed(conn, claimed))
        except IdempotencyRace as race:  # this request's failure, not the group's
            outcomes.append(race)
    return outcomes


async def claim_and_append(
    conn: Connection, claims: Sequence[Claim], append_arguments: Sequence[list[object]],
) -> asyncpg.Record:
    """The whole group as one statement, as if it claims every reference and
    key it asks for (the sequencer's `fused`): committed, or raised and
    nothing written, when `claim_together` takes over."""
    for claim in claims:
        claim.stage_claimed({c.credential_id for c in claim.candidates})
    responses = [(claim.idempotency.client_id, claim.idempotency.key, stored_response(claim.idempotency, claim.staged))
                 for claim in claims if claim.idempotency is not None]
    return await store.claim_and_append(conn, *_claim_columns(claims), responses, append_arguments)


async def report_raced(
    conn: asyncpg.Connection, issuer_id: str, losers: list[Candidate], outcomes: dict[int, ItemOutcome],
) -> None:
    """References a concurrent request claimed while this one was signing."""
    taken = await store.references_taken(conn, issuer_id, [c.request.reference for c in losers])
    positions = await store.issued_positions(conn, [t.credential_id for t in taken.values()])
    for candidate in losers:
        previous = taken[candidate.request.reference]
        outcomes[candidate.index] = existing_or_conflict(candidate, previous, positions.get(previous.credential_id))


def stored_response(idempotency: IdempotencyRecord, outcomes: dict[int, ItemOutcome]) -> StoredResponse:
    return StoredResponse(idempotency.fingerprint, msgspec.json.encode([outcomes[i] for i in sorted(outcomes)]))


async def save_response(
    conn: asyncpg.Connection, idempotency: IdempotencyRecord, outcomes: dict[int, ItemOutcome],
) -> None:
    stored = stored_response(idempotency, outcomes)
    if not await store.save_idempotent_response(conn, idempotency.client_id, idempotency.key, stored):
        raise IdempotencyRace()
