"""Every ledger event type of the platform, and the catalog that decodes them."""

from shared.events import credentials, registry
from shared.ledger.eventstore.events import EventCatalog

CATALOG = EventCatalog(*registry.EVENTS, *credentials.EVENTS)
# The event types whose full entry the public audit log discloses.
PUBLIC_EVENT_TYPES = frozenset(e.event_type for e in registry.PUBLIC_EVENTS)
