"""Whether the read model may vouch for a credential's current status.

A verdict of `valid` claims "not revoked as of now". The model can only
claim that while it is caught up with the ledger and still hearing from it:
after the initial replay, with recent contact (a ledger read or a Kafka
batch), and not known to be far behind the ledger's head. Otherwise status
checks answer `unknown`, never `valid`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.eventstore.store import Ledger


@dataclass
class Freshness:
    max_lag_events: int = 1000
    max_silence_seconds: float = 5.0
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    last_contact: float = 0.0
    known_head: int = 0

    def touch(self, head: int | None = None) -> None:
        self.last_contact = time.monotonic()
        if head is not None:
            self.known_head = max(self.known_head, head)

    def is_fresh(self, position: int) -> bool:
        return (
            self.caught_up.is_set()
            and time.monotonic() - self.last_contact <= self.max_silence_seconds
            and self.known_head - position <= self.max_lag_events
        )


class WatchedLedger(Ledger):
    """The projection runner's view of the ledger, noting every successful read."""

    def __init__(self, ledger: Ledger, freshness: Freshness) -> None:
        super().__init__(ledger.pool, ledger.catalog)
        self._freshness = freshness

    async def read_from(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        events = await super().read_from(after, limit)
        self._freshness.touch(events[-1].position if events else None)
        return events

    async def head_position(self) -> int:
        head = await super().head_position()
        self._freshness.touch(head)
        return head
