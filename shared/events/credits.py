"""Credit account events: a learner authorising an issuer to read its
credit account. Streams: `credit-grant:{grant id}`. The learner is named by
no event (its key stays in the issuance service's table)."""

from __future__ import annotations

from shared.ledger.eventstore.events import Event


class CreditAccountShared(Event, frozen=True, kw_only=True):
    event_type = "issuance.CreditAccountShared"
    grant_id: str
    issuer_id: str  # who may read the account
    valid_until: str


class CreditAccountShareRevoked(Event, frozen=True, kw_only=True):
    event_type = "issuance.CreditAccountShareRevoked"
    grant_id: str


EVENTS: tuple[type[Event], ...] = (CreditAccountShared, CreditAccountShareRevoked)
