"""Event types used only by the ledger's own tests."""

from __future__ import annotations

from shared.ledger.eventstore.events import Event, EventCatalog, Metadata


class Noted(Event, frozen=True, kw_only=True):
    event_type = "test.Noted"
    text: str
    n: int = 0


TEST_CATALOG = EventCatalog(Noted)
TEST_METADATA = Metadata(actor="test-client", tenant="test-tenant", request_id="req-1")
