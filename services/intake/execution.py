"""Running authenticated commands through the code HTTP runs.

Issuing goes through `issue_hosted` (the batch path: one ledger append per
run of commands), status changes through the revocation service's
`StatusChanger` with the same access rule as its HTTP API, stack claims
through `claim_named`. Where that code raises a `Problem`, the command's
outcome carries the same problem details HTTP answers with.

Commands are run in the order they were read, in runs of consecutive
commands of one issuer and one family, so a revoke never overtakes the issue
it follows. Each outcome is recorded in Postgres before `run` returns;
status changes record theirs in the transaction that appends them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from services.intake.commands import ClaimStack, Command, CommandOutcome, IssueCredential, StatusCommand, kind_of
from services.issuance.context import IssuanceContext
from services.issuance.issuing import issue_hosted
from services.issuance.schemas import MAX_BATCH, ItemOutcome
from services.issuance.stacks import claim_named, require_pathway_issuer
from services.revocation.access import may_manage
from services.revocation.refusals import refusal_of, require_reasons
from services.revocation.status_changes import Outcome, StatusChange, StatusChanger
from shared.auth import Principal
from shared.credential_status import Action
from shared.db.sql import load_queries
from shared.http.problem import problem_of
from shared.ledger.eventstore.events import Metadata
from shared.refusals import Refusal, RefusalRecord

QUERIES = load_queries("services.intake")


@dataclass(frozen=True, slots=True)
class Signed:
    """A command whose signature verified, with the key that made it."""

    command: Command
    key_id: str
    source: str  # topic/partition/offset, the ledger metadata's request id

    @property
    def identity(self) -> tuple[str, str]:
        return self.command.issuer_id, self.command.command_id


def rejected(command: Command, refusal: Refusal) -> CommandOutcome:
    """The outcome record of a refused command, with the problem details HTTP would give."""
    return CommandOutcome(command_id=command.command_id, issuer_id=command.issuer_id, kind=kind_of(command),
                          outcome="rejected", problem=problem_of(refusal).to_document())


class CommandRunner:
    def __init__(self, ctx: IssuanceContext, changer: StatusChanger) -> None:
        self._ctx = ctx
        self._changer = changer

    async def run(self, batch: Sequence[Signed]) -> list[CommandOutcome]:
        """One recorded outcome per command, in order."""
        outcomes: list[CommandOutcome] = []
        for run in runs(batch):
            first = run[0].command
            if isinstance(first, IssueCredential):
                outcomes += await self._issue(run)
            elif isinstance(first, ClaimStack):
                outcomes.append(await self._claim(run[0]))
            else:
                outcomes += await self._change(run)
        return outcomes

    async def _issue(self, run: list[Signed]) -> list[CommandOutcome]:
        commands: list[IssueCredential] = [s.command for s in run]  # type: ignore[misc]
        items = await issue_hosted(self._ctx, _metadata(run[0]), [c.credential for c in commands])
        outcomes = [_issue_outcome(c, item) for c, item in zip(commands, items, strict=True)]
        async with self._ctx.pool.acquire() as conn:
            await record(conn, outcomes)
        return outcomes

    async def _change(self, run: list[Signed]) -> list[CommandOutcome]:
        commands: list[StatusCommand] = [s.command for s in run]  # type: ignore[misc]
        refused: dict[int, CommandOutcome] = {}
        changes: list[StatusChange] = []
        for index, command in enumerate(commands):
            try:
                require_reasons([command.change.reason])
            except Refusal as refusal:
                refused[index] = rejected(command, refusal)
                continue
            action: Action = kind_of(command)  # type: ignore[assignment]
            changes.append(StatusChange(command.credential_id, action, command.change.reason.strip(),
                                        command.change.reason_code))
        issuer_id = run[0].command.issuer_id
        may_act = may_manage(Principal(_actor(run[0]), "issuer", issuer_id), self._ctx.state)
        async with self._ctx.pool.acquire() as conn, conn.transaction():
            applied = iter(await self._changer.apply(conn, changes, _metadata(run[0]), may_act) if changes else [])
            outcomes = [refused[i] if i in refused else _change_outcome(c, next(applied))
                        for i, c in enumerate(commands)]
            await record(conn, outcomes)
        return outcomes

    async def _claim(self, signed: Signed) -> CommandOutcome:
        command: ClaimStack = signed.command  # type: ignore[assignment]

        async def claimant(pathway, rows) -> Metadata:
            require_pathway_issuer(pathway, command.issuer_id)
            return _metadata(signed)

        try:
            award = await claim_named(self._ctx, command.stack, claimant)
            outcome = CommandOutcome(
                command_id=command.command_id, issuer_id=command.issuer_id, kind=kind_of(command), outcome="issued",
                credential_id=award.credential_id, position=award.positions[-1], stack_id=award.stack_id)
        except Refusal as refusal:
            outcome = rejected(command, refusal)
        async with self._ctx.pool.acquire() as conn:
            await record(conn, [outcome])
        return outcome


def runs(batch: Sequence[Signed]) -> Iterator[list[Signed]]:
    """Consecutive commands of one issuer and family; a stack claim runs alone.

    An issue run also ends before a reference it already holds (a command
    sent twice), so the second is answered as existing, not as a duplicate
    within one batch.
    """
    run: list[Signed] = []
    references: set[str] = set()
    for signed in batch:
        if run and not _joins(run, signed, references):
            yield run
            run, references = [], set()
        run.append(signed)
        if isinstance(signed.command, IssueCredential):
            references.add(signed.command.credential.reference)
    if run:
        yield run


def _joins(run: list[Signed], signed: Signed, references: set[str]) -> bool:
    last, command = run[-1].command, signed.command
    if last.issuer_id != command.issuer_id or isinstance(command, ClaimStack) or isinstance(last, ClaimStack):
        return False
    if isinstance(command, IssueCredential):
        return (isinstance(last, IssueCredential) and command.credential.reference not in references
                and len(run) < MAX_BATCH)
    return not isinstance(last, IssueCredential)


def _actor(signed: Signed) -> str:
    return f"intake:{signed.command.issuer_id}:{signed.key_id}"


def _metadata(signed: Signed) -> Metadata:
    return Metadata(actor=_actor(signed), tenant=signed.command.issuer_id, request_id=signed.source)


def _issue_outcome(command: IssueCredential, item: ItemOutcome) -> CommandOutcome:
    return CommandOutcome(
        command_id=command.command_id, issuer_id=command.issuer_id, kind=kind_of(command), outcome=item.outcome,
        reference=item.reference, credential_id=item.credential_id, position=item.position,
        learner_hash=item.learner_hash, problem=_without_identity(item.refusal, command))


def _without_identity(refusal: RefusalRecord | None, command: IssueCredential) -> dict | None:
    """The problem with the learner's email or national id blanked out: HTTP
    tells only the caller, but every producer can read the reply topic."""
    if refusal is None:
        return None
    problem = problem_of(refusal).to_document()
    if "detail" not in problem:
        return problem
    detail = problem["detail"]
    for identity in (command.credential.learner.email, command.credential.learner.national_id):
        if identity:
            detail = detail.replace(repr(identity), "(withheld)").replace(identity, "(withheld)")
    return {**problem, "detail": detail}


def _change_outcome(command: StatusCommand, outcome: Outcome) -> CommandOutcome:
    if not outcome.applied:
        return rejected(command, refusal_of(outcome))
    return CommandOutcome(command_id=command.command_id, issuer_id=command.issuer_id, kind=kind_of(command),
                          outcome="applied", credential_id=command.credential_id, position=outcome.position,
                          status=outcome.status)


async def record(conn: asyncpg.Connection, outcomes: Sequence[CommandOutcome]) -> None:
    await conn.execute(QUERIES["record_outcomes"], [o.issuer_id for o in outcomes],
                       [o.command_id for o in outcomes], [o.kind for o in outcomes],
                       [o.outcome for o in outcomes], [msgspec.json.encode(o) for o in outcomes])


async def recorded(pool: asyncpg.Pool, batch: Sequence[Signed]) -> dict[tuple[str, str], bytes]:
    """Replies already recorded for these commands (read again after a crash)."""
    rows = await pool.fetch(QUERIES["recorded_outcomes"], [s.command.issuer_id for s in batch],
                            [s.command.command_id for s in batch])
    replies = (bytes(r["reply"]) for r in rows)
    return {(o.issuer_id, o.command_id): raw for raw, o in ((raw, _OUTCOME.decode(raw)) for raw in replies)}


_OUTCOME = msgspec.json.Decoder(CommandOutcome)
