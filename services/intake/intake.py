"""The intake: read commands, run them, record and publish each outcome.

For every batch the consumer hands over:

1. every record is opened through shared/untrusted.py; one that cannot be
   read goes to the dead-letter topic with the reason;
2. its signature is checked against the issuer's registered keys; a refusal
   (unknown key, another issuer's command) is answered on the reply topic
   and runs nothing;
3. commands with an outcome already recorded (read again after a crash) get
   that outcome republished; the rest are run (execution.py), which records
   their outcomes;
4. every reply and dead letter is published and acknowledged.

Only then does the consumer commit the batch's offsets, so a crash anywhere
re-reads the batch, and the recorded outcomes (or, for an issue recorded in
the ledger but not yet here, its reference) stop it from running twice.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence

import asyncpg
import msgspec
from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.intake.commands import CommandOutcome, DeadLetter, IntakeTopics
from services.intake.execution import CommandRunner, Signed, recorded, rejected
from services.intake.signature import authenticate, open_command
from shared.refusals import Refusal
from shared.registry_state import RegistryState
from shared.timeutil import now
from shared.untrusted import UntrustedInput

log = logging.getLogger(__name__)


class IntakeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter("intake_commands_consumed", "Command records read from the commands topic",
                                registry=registry)
        self.outcomes = Counter("intake_outcomes", "Outcomes published, by command kind and outcome",
                                ["kind", "outcome"], registry=registry)
        # Labelled only by issuers whose signature verified: a forged issuer
        # id must not be able to grow the metric without bound.
        self.issuer_lag = Gauge("intake_issuer_lag_seconds",
                                "Age of the issuer's latest command when its outcome was published", ["issuer"],
                                registry=registry)


class Intake:
    def __init__(self, pool: asyncpg.Pool, state: RegistryState, runner: CommandRunner,
                 producer: AIOKafkaProducer, topics: IntakeTopics, metrics: IntakeMetrics) -> None:
        self._pool = pool
        self._state = state
        self._runner = runner
        self._producer = producer
        self._topics = topics
        self._metrics = metrics

    async def handle(self, records: Sequence[ConsumerRecord]) -> None:
        self._metrics.consumed.inc(len(records))
        moment = now()
        signed: list[tuple[ConsumerRecord, Signed]] = []
        replies: list[CommandOutcome | bytes] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                opened = open_command(record.value)
            except UntrustedInput as refused:
                dead.append(_dead_letter(record, str(refused)))
                continue
            try:
                key = authenticate(self._state, opened, moment)
            except Refusal as refusal:
                replies.append(rejected(opened.command, refusal))
                continue
            signed.append((record, Signed(opened.command, key.key_id,
                                          f"{record.topic}/{record.partition}/{record.offset}")))
        refused = len(replies)
        replies += await self._outcomes([s for _, s in signed])
        await self._publish(replies, dead)
        self._report_lag(signed)
        log.info("commands handled", extra={"records": len(records), "signed": len(signed), "refused": refused,
                                            "dead_letters": len(dead)})

    async def _outcomes(self, batch: list[Signed]) -> list[bytes]:
        """The reply of every command: recorded before, or from running it now."""
        known = await recorded(self._pool, batch) if batch else {}
        fresh, seen = [], set(known)
        for signed in batch:  # a command delivered twice in one batch runs once, in its first place
            if signed.identity not in seen:
                seen.add(signed.identity)
                fresh.append(signed)
        for outcome in await self._runner.run(fresh):
            known[(outcome.issuer_id, outcome.command_id)] = msgspec.json.encode(outcome)
        return [known[s.identity] for s in batch]

    async def _publish(self, replies: list[CommandOutcome | bytes], dead: list[DeadLetter]) -> None:
        sends = []
        for reply in replies:
            outcome = reply if isinstance(reply, CommandOutcome) else _OUTCOME.decode(reply)
            raw = reply if isinstance(reply, bytes) else msgspec.json.encode(reply)
            sends.append(await self._producer.send(self._topics.outcomes, raw, key=outcome.command_id.encode()))
            self._metrics.outcomes.labels(outcome.kind, outcome.outcome).inc()
        for letter in dead:
            sends.append(await self._producer.send(self._topics.dead_letters, msgspec.json.encode(letter),
                                                   key=base64.b64decode(letter.key) if letter.key else None))
            self._metrics.outcomes.labels("unreadable", "dead_letter").inc()
            log.warning("command sent to the dead-letter topic",
                        extra={"partition": letter.partition, "offset": letter.offset, "reason": letter.reason})
        # Acknowledged, every one, before the consumer may commit.
        await asyncio.gather(*sends)

    def _report_lag(self, signed: list[tuple[ConsumerRecord, Signed]]) -> None:
        latest = {s.command.issuer_id: record.timestamp for record, s in signed}
        for issuer_id, timestamp in latest.items():
            self._metrics.issuer_lag.labels(issuer_id).set(max(time.time() - timestamp / 1000, 0.0))


def _dead_letter(record: ConsumerRecord, reason: str) -> DeadLetter:
    return DeadLetter(reason=reason, partition=record.partition, offset=record.offset,
                      key=base64.b64encode(record.key).decode() if record.key is not None else None,
                      value_base64=base64.b64encode(record.value or b"").decode())


_OUTCOME = msgspec.json.Decoder(CommandOutcome)
