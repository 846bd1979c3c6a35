"""Checking broker records against the hash chain before a projection applies them.

The broker is a delivery channel, not a source of truth: anyone who can
produce to the ledger topic could otherwise tell every read model whatever
they like. A record is only applied if it extends the chain the projection
has applied so far: its position follows the last one, its `prev_hash` is
the last applied hash, and its `hash` recomputes from its own bytes with the
chain's definition (shared/ledger/eventstore/chain.py, the same one `audit verify`
checks). Those checks need no database, but anyone can compute SHA-256, so
a self-consistent forgery at the head would pass them: the runner also
compares the last hash of each batch with the ledger's hash at that
position, one indexed lookup that, through the chain, vouches for every
record before it. Anything else is read from the ledger instead.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from shared.ledger.eventstore.chain import chain_hash, entry_bytes
from shared.ledger.eventstore.events import RecordedEvent


class Break(enum.Enum):
    # Not a forgery by itself: partitions interleave and brokers lose data.
    GAP = "gap"
    PREV_HASH = "prev_hash"
    HASH = "hash"
    NOT_IN_LEDGER = "not_in_ledger"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    kind: Break
    position: int


def recomputed_hash(event: RecordedEvent) -> bytes:
    return chain_hash(event.prev_hash, entry_bytes(
        event.position, event.stream_id, event.version, event.event_type,
        bytes(event.payload), bytes(event.metadata),
    ))


def first_break(position: int, last_hash: bytes, events: Sequence[RecordedEvent]) -> ChainBreak | None:
    """The first of `events` (sorted, all beyond `position`) that does not
    extend the chain ending at (`position`, `last_hash`); None if all do."""
    for event in events:
        if event.position != position + 1:
            return ChainBreak(Break.GAP, position + 1)
        if event.prev_hash != last_hash:
            return ChainBreak(Break.PREV_HASH, event.position)
        if recomputed_hash(event) != event.hash:
            return ChainBreak(Break.HASH, event.position)
        position, last_hash = event.position, event.hash
    return None


def first_unlike(records: Sequence[RecordedEvent], ledger_events: Sequence[RecordedEvent]) -> int:
    """The first position whose record is not the ledger's row there (or
    that the ledger does not have)."""
    in_ledger = {e.position: e.hash for e in ledger_events}
    return next(e.position for e in records if in_ledger.get(e.position) != e.hash)
