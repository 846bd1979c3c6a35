"""Every ledger event type of the platform, and the catalog that decodes them."""

from shared.events import credentials, registry
from shared.ledger.events import EventCatalog

CATALOG = EventCatalog(*registry.EVENTS, *credentials.EVENTS)
