"""The chain check a projection runs on broker records (shared/ledger/delivery/feed.py)."""

from __future__ import annotations

import msgspec

from shared.ledger.delivery.feed import Break, ChainBreak, first_break, first_unlike
from shared.ledger.eventstore.chain import GENESIS_HASH, chain_hash, entry_bytes
from shared.ledger.eventstore.events import RecordedEvent


def chain(count: int) -> list[RecordedEvent]:
    events, prev = [], GENESIS_HASH
    for position in range(1, count + 1):
        payload, metadata = b'{"n":%d}' % position, b'{"actor":"a"}'
        digest = chain_hash(prev, entry_bytes(position, "s", position, "test.Noted", payload, metadata))
        events.append(RecordedEvent(position=position, stream_id="s", version=position, event_type="test.Noted",
                                    payload=msgspec.Raw(payload), metadata=msgspec.Raw(metadata),
                                    prev_hash=prev, hash=digest))
        prev = digest
    return events


def test_records_that_extend_the_chain_pass():
    events = chain(4)
    assert first_break(0, GENESIS_HASH, events) is None
    assert first_break(2, events[1].hash, events[2:]) is None


def test_each_kind_of_break_is_named_with_its_position():
    events = chain(4)
    assert first_break(1, events[0].hash, events[2:]) == ChainBreak(Break.GAP, 2)
    assert first_break(2, bytes(32), events[2:]) == ChainBreak(Break.PREV_HASH, 3)
    altered = msgspec.structs.replace(events[3], payload=msgspec.Raw(b'{"n":666}'))
    assert first_break(2, events[1].hash, [events[2], altered]) == ChainBreak(Break.HASH, 4)


def test_the_first_record_unlike_the_ledger_is_found():
    ledger, forged = chain(3), chain(4)
    forged[2] = msgspec.structs.replace(forged[2], hash=bytes(32))
    assert first_unlike(forged, ledger) == 3
    assert first_unlike(chain(4), ledger) == 4  # beyond the ledger's head
