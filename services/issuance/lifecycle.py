"""The issuance service's read models, fed by one pass over the ledger.

- The registry state (in memory, rebuilt from the start of the ledger on
  every start): who may issue what, with which key; pathway rules.
- The lifecycle projection (durable, in Postgres, resuming where it
  stopped): revocation events (`revocation.*`) keep
  `issuance.credentials.status` current, so stacking never counts a revoked
  or suspended component, and a revoked award releases the credits it
  redeemed; and each CredentialIssued is checked against the
  approved pathways that award automatically: when it completes a learner's
  rule, the award is issued in this projection's transaction. The stack id
  (pathway + learner) makes a re-delivered or replayed event harmless.

One runner, one Kafka consumer: every batch reaches the registry state
before the lifecycle projection, so an automatic award is never decided on
a pathway older than the event that triggered it, and the service decodes
the (large) credential events once, not once per read model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg

from services.issuance import redemptions, store
from services.issuance.context import IssuanceContext
from services.issuance.stacking import auto_pathways_using
from services.issuance.stacks import try_auto_award
from shared.credential_status import ACTION_OF_EVENT
from shared.events import CATALOG
from shared.events.credentials import CredentialIssued
from shared.ledger.delivery.projection import Applied, PostgresProjection, Projection
from shared.ledger.eventstore.events import RecordedEvent
from shared.registry_state import REGISTRY_PREFIX, RegistryProjection
from shared.timeutil import now

log = logging.getLogger(__name__)

LIFECYCLE_PROJECTION = "issuance.lifecycle"


class LifecycleProjection(PostgresProjection):
    def __init__(self, ctx: IssuanceContext) -> None:
        super().__init__(ctx.pool, LIFECYCLE_PROJECTION)
        self._ctx = ctx

    def affects(self, event: RecordedEvent) -> bool:
        # Every credential this service issues comes back through here; most
        # need nothing (no automatic pathway), and their batches only move the progress.
        return event.event_type in ACTION_OF_EVENT or (
            event.event_type == CredentialIssued.event_type and self._any_auto_pathway())

    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        if event.event_type in ACTION_OF_EVENT:
            changed = CATALOG.decode(event)
            await store.apply_status_event(conn, changed.credential_id, event.event_type)  # type: ignore[attr-defined]
            if ACTION_OF_EVENT[event.event_type] == "revoke":  # a revoked award gives its credits back
                await redemptions.release(conn, changed.credential_id)  # type: ignore[attr-defined]
        elif event.event_type == CredentialIssued.event_type and self._any_auto_pathway():
            await self._stack(conn, CATALOG.decode(event))  # type: ignore[arg-type]

    def _any_auto_pathway(self) -> bool:
        # Most deployments have few automatic pathways; bulk issuance should
        # not pay for decoding every credential to find that out.
        return any(p.status == "approved" and p.event.rule.auto_award for p in self._ctx.state.pathways.values())

    async def _stack(self, conn: asyncpg.Connection, issued: CredentialIssued) -> None:
        pathways = auto_pathways_using(self._ctx.state, issued.achievement_id)
        if not pathways:
            return
        # The learner key is in no event (it is never published); the row
        # was written in the same transaction as the event.
        row = await store.credential(conn, issued.credential_id)
        if row is None:
            return
        moment = now().replace(microsecond=0)
        for pathway in pathways:
            await try_auto_award(self._ctx, conn, pathway, row.learner_key, moment)


class IssuanceProjection(Projection):
    """Registry state first, then the lifecycle tables, event batch by batch."""

    name = "issuance"

    def __init__(self, ctx: IssuanceContext) -> None:
        self.registry = RegistryProjection(ctx.state, "issuance.registry")
        self.lifecycle = LifecycleProjection(ctx)
        self.position = 0

    async def load_applied(self) -> Applied:
        # The registry state lives in memory, so every start replays the
        # ledger; the lifecycle projection skips what its progress row says
        # it already applied.
        return Applied()

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        await self.registry.apply(events)
        await self.lifecycle.apply(events)
        self.position = events[-1].position

    async def apply_if_anchored(self, events: Sequence[RecordedEvent]) -> bool | None:
        # Without registry events the state the lifecycle decides by is the
        # same before and after the batch, so the lifecycle may go first, in
        # the statement that checks the anchor; the registry follows only then.
        if any(e.event_type.startswith(REGISTRY_PREFIX) for e in events):
            return None
        anchored = await self.lifecycle.apply_if_anchored(events)
        if anchored:
            await self.registry.apply(events)  # moves its position: nothing in the batch is the registry's
            self.position = events[-1].position
        return anchored
