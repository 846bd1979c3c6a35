"""The revocation service's durable read model, and the cascades it runs.

`revocation.credentials` holds every issued credential with its status
entries and current status; a status change marks the credential's status
lists for regeneration. Status changes appended by this service were already
written through by the command (status_version says so); here they only
trigger their cascades.

Cascade rules run here, in position order, and their events are appended in
the projection's transaction together with its progress: a trigger
delivered twice is applied once, and its cascade with it. A rebuilt read
model re-runs the rules, and finds their events already in the ledger.

The pathway rules, accreditations and keys the cascades need come from the
service's in-memory registry state, a separate projection; before an event
that needs it is applied, that state is awaited up to the event's position,
so a cascade never acts on a registry view older than its trigger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from services.revocation import cascade
from services.revocation.metrics import RevocationMetrics
from services.revocation.status_changes import QUERIES, StatusChange, StatusChanger, credential_row
from shared.credential_status import ACTION_OF_EVENT, after_event
from shared.events import CATALOG
from shared.events import credentials as cred
from shared.events import recognition as rec
from shared.events import registry as reg
from shared.ledger.delivery.projection import PostgresProjection
from shared.ledger.eventstore.events import Metadata, RecordedEvent
from shared.registry_state import RegistryProjection

log = logging.getLogger(__name__)

PROJECTION_NAME = "revocation.credentials"
CASCADE_ACTOR = "revocation.cascade"
REGISTRY_WAIT_SECONDS = 10.0

Handler = Callable[[asyncpg.Connection, Any, RecordedEvent], Awaitable[None]]


async def registry_reached(registry: RegistryProjection, position: int, timeout: float) -> bool:
    """Wait until the in-memory registry state has applied `position`."""
    deadline = time.monotonic() + timeout
    while registry.position < position:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)
    return True


class CredentialsProjection(PostgresProjection):
    def __init__(
        self, pool: asyncpg.Pool, registry: RegistryProjection, changer: StatusChanger,
        metrics: RevocationMetrics, on_lists_changed: Callable[[], None],
    ) -> None:
        super().__init__(pool, PROJECTION_NAME)
        self._registry = registry
        self._changer = changer
        self._metrics = metrics
        self._on_lists_changed = on_lists_changed
        self._lists_changed = False
        status_handlers = dict.fromkeys(ACTION_OF_EVENT, self._status_changed)
        self._handlers: dict[str, Handler] = {
            **status_handlers,
            cred.CredentialIssued.event_type: self._issued,
            cred.CredentialRevoked.event_type: self._revoked,
            reg.IssuerKeyCompromised.event_type: self._key_compromised,
            reg.AccreditationWithdrawn.event_type: self._accreditation_withdrawn,
            cred.StackClaimed.event_type: self._stack_claimed,
            rec.RecognitionAgreementRevoked.event_type: self._recognition_revoked,
        }

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        self._lists_changed = False
        await super().apply(events)
        if self._lists_changed:
            # After the commit, so the publisher sees what it is woken for.
            self._on_lists_changed()

    async def apply_one(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        handler = self._handlers.get(event.event_type)
        if handler is not None:
            await handler(conn, CATALOG.decode(event), event)

    async def _issued(self, conn: asyncpg.Connection, e: cred.CredentialIssued, recorded: RecordedEvent) -> None:
        # Already there if a status change came first (StatusChanger._fill).
        await conn.execute(QUERIES["insert_credential"], *credential_row(e))
        await self._await_registry(recorded)
        await self._cascade(conn, cascade.due_at_issuance(e, self._registry.state), recorded)

    async def _status_changed(self, conn: asyncpg.Connection, e: Any, recorded: RecordedEvent) -> None:
        current = await conn.fetchrow(QUERIES["current_status"], e.credential_id)
        if current is None:
            log.warning("status change for a credential never issued; ignored",
                        extra={"credential_id": e.credential_id, "position": recorded.position})
            return
        if recorded.version <= current["status_version"]:
            return  # written through by the command that appended it
        after = after_event(current["status"], recorded.event_type)
        await conn.execute(QUERIES["set_statuses"], [e.credential_id], [after], [recorded.version])
        self._lists_changed = True

    async def _revoked(self, conn: asyncpg.Connection, e: cred.CredentialRevoked, recorded: RecordedEvent) -> None:
        await self._status_changed(conn, e, recorded)
        awards = await cascade.awards_containing(conn, e.credential_id)
        if awards:  # pathway rules are only needed (and waited for) when there are awards
            await self._await_registry(recorded)
            await self._cascade(conn, cascade.component_revoked(e, awards, self._registry.state), recorded)

    async def _key_compromised(
        self, conn: asyncpg.Connection, e: reg.IssuerKeyCompromised, recorded: RecordedEvent
    ) -> None:
        # Lists signed with the key after the compromise no longer verify.
        await conn.execute(QUERIES["mark_issuer_lists"], e.issuer_id, recorded.position)
        self._lists_changed = True
        await self._cascade(conn, await cascade.key_compromised(conn, e), recorded)

    async def _accreditation_withdrawn(
        self, conn: asyncpg.Connection, e: reg.AccreditationWithdrawn, recorded: RecordedEvent
    ) -> None:
        await self._await_registry(recorded)
        changes = await cascade.accreditation_withdrawn(conn, e, self._registry.state)
        await self._cascade(conn, changes, recorded)

    async def _stack_claimed(self, conn: asyncpg.Connection, e: cred.StackClaimed, recorded: RecordedEvent) -> None:
        admitted = [a for a in e.admissions if a.agreement_id]
        if admitted:
            await conn.execute(QUERIES["insert_award_admissions"], e.award_credential_id,
                               [a.component_id for a in admitted], [a.agreement_id for a in admitted])

    async def _recognition_revoked(
        self, conn: asyncpg.Connection, e: rec.RecognitionAgreementRevoked, recorded: RecordedEvent
    ) -> None:
        await self._await_registry(recorded)
        await self._cascade(conn, await cascade.recognition_revoked(conn, e, self._registry.state), recorded)

    async def _await_registry(self, recorded: RecordedEvent) -> None:
        if not await registry_reached(self._registry, recorded.position, REGISTRY_WAIT_SECONDS):
            log.warning("registry state is behind the credentials projection; cascading on what it knows",
                        extra={"position": recorded.position, "registry_position": self._registry.position})

    async def _cascade(
        self, conn: asyncpg.Connection, changes: list[StatusChange], trigger: RecordedEvent
    ) -> None:
        if not changes:
            return
        metadata = Metadata(actor=CASCADE_ACTOR, tenant="platform", request_id=f"ledger:{trigger.position}")
        outcomes = await self._changer.apply(conn, changes, metadata)
        applied = [o for o in outcomes if o.applied]
        self._lists_changed = self._lists_changed or bool(applied)
        for outcome in applied:
            self._metrics.status_changes.labels(outcome.change.action, "cascade").inc()
        log.info("cascade applied", extra={
            "trigger": trigger.event_type, "position": trigger.position,
            "applied": len(applied), "not_applicable": len(outcomes) - len(applied),
        })
