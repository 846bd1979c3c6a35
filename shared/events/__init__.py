"""Every ledger event type of the platform, and the catalog that decodes them."""

from shared.events import credentials, credits, endorsements, recognition, registry, sharing
from shared.ledger.eventstore.events import Event, EventCatalog

CATALOG = EventCatalog(*registry.EVENTS, *recognition.EVENTS, *credentials.EVENTS, *credits.EVENTS,
                       *endorsements.EVENTS, *sharing.EVENTS)
# The event types whose full entry the public audit log discloses.
_PUBLIC_EVENTS: tuple[type[Event], ...] = (*registry.PUBLIC_EVENTS, *recognition.EVENTS,
                                           endorsements.EndorserRegistered)
PUBLIC_EVENT_TYPES = frozenset(e.event_type for e in _PUBLIC_EVENTS)
