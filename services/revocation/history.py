"""A credential's status history, straight from its ledger stream."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from shared.credential_status import ACTION_OF_EVENT, EVENT_NAMES, Status, after_event
from shared.events import CATALOG
from shared.events.credentials import Cause, CredentialIssued, credential_stream
from shared.ledger.eventstore.events import Event, Metadata, RecordedEvent
from shared.ledger.eventstore.store import Ledger

_METADATA = msgspec.json.Decoder(Metadata)


class StatusHistoryEntry(msgspec.Struct, omit_defaults=True, kw_only=True):
    position: int
    version: int
    event: str  # issued, revoked, suspended, reinstated, flagged_for_review
    status: Status  # the status after this event
    recorded_at: str
    actor: str
    tenant: str
    request_id: str = ""
    reason_code: str | None = None
    reason: str | None = None
    cause: Cause | None = None


class StatusHistory(msgspec.Struct, kw_only=True):
    credential_id: str
    issuer_id: str
    status: Status
    entries: list[StatusHistoryEntry]


@dataclass(frozen=True, slots=True)
class StreamHistory:
    history: StatusHistory
    # Whoever shows the matching learner link token is the holder.
    holder_token_hash: str


async def status_history(ledger: Ledger, credential_id: str) -> StreamHistory | None:
    """None when no credential with that id was issued."""
    recorded = await ledger.read_stream(credential_stream(credential_id))
    events = [CATALOG.decode(r) for r in recorded]
    if not events or not isinstance(events[0], CredentialIssued):
        return None
    issued = events[0]
    status: Status = "active"
    entries = [_entry(recorded[0], issued, "issued", status)]
    for record, event in zip(recorded[1:], events[1:], strict=True):
        action = ACTION_OF_EVENT.get(record.event_type)
        if action is not None:
            status = after_event(status, record.event_type)
            entries.append(_entry(record, event, EVENT_NAMES[action], status))
    history = StatusHistory(credential_id=issued.credential_id, issuer_id=issued.issuer_id, status=status,
                            entries=entries)
    return StreamHistory(history, issued.holder_token_hash)


def _entry(recorded: RecordedEvent, event: Event, name: str, status: Status) -> StatusHistoryEntry:
    metadata = _METADATA.decode(recorded.metadata)
    return StatusHistoryEntry(
        position=recorded.position, version=recorded.version, event=name, status=status,
        recorded_at=metadata.recorded_at, actor=metadata.actor, tenant=metadata.tenant,
        request_id=metadata.request_id, reason_code=getattr(event, "reason_code", None),
        reason=getattr(event, "reason", None), cause=getattr(event, "cause", None),
    )
