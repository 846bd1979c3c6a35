"""Event types evolve: version-1 events stored in a real ledger keep replaying
after the type changed shape, through its upcasters."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pytest

from shared.ledger.eventstore.events import Event, EventCatalog, MalformedEvent, RecordedEvent
from shared.ledger.eventstore.store import Ledger, NewEvent
from tests.support.events import TEST_METADATA

SIGNED = b'{"proof":{"proofValue":"z1"},"b":1.0E2,"a":"\\u00e9"}'  # not canonical on purpose


class AwardV1(Event, frozen=True, kw_only=True):
    """The type as first released: one grade string."""

    event_type: ClassVar[str] = "test.Award"
    learner: str
    grade: str
    document: msgspec.Raw


class AwardV3(Event, frozen=True, kw_only=True):
    """Two releases later: `learner` renamed, the grade split, a new field."""

    event_type: ClassVar[str] = "test.Award"
    class_version: ClassVar[int] = 3
    learner_key: str
    grade_value: str
    grade_scale: str
    document: msgspec.Raw
    channel: str = "http"

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> dict[str, Any]:
        state["learner_key"] = state.pop("learner")
        return state

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> dict[str, Any]:
        value, _, scale = state.pop("grade").partition("/")
        return {**state, "grade_value": value, "grade_scale": scale or "unspecified"}


OLD = EventCatalog(AwardV1)
NEW = EventCatalog(AwardV3)


async def test_a_stored_version_1_event_replays_as_version_3(db) -> None:
    await Ledger(db, OLD).append(
        [NewEvent("award-1", AwardV1(learner="k1", grade="A/letter", document=msgspec.Raw(SIGNED)))],
        TEST_METADATA,
    )
    new_ledger = Ledger(db, NEW)
    await new_ledger.append(
        [NewEvent("award-2", AwardV3(learner_key="k2", grade_value="87", grade_scale="percent",
                                     document=msgspec.Raw(SIGNED), channel="kafka"))],
        TEST_METADATA,
    )
    old_row, new_row = await new_ledger.read_from(0)
    assert b"class_version" not in bytes(old_row.payload)
    assert bytes(new_row.payload).startswith(b'{"_class_version":3,"channel":"kafka",')

    upcast = NEW.decode(old_row)
    assert upcast == AwardV3(learner_key="k1", grade_value="A", grade_scale="letter",
                             document=msgspec.Raw(SIGNED))
    # The signed document comes through every upcast step as its exact bytes.
    assert bytes(upcast.document) == SIGNED
    current = NEW.decode(new_row)
    assert isinstance(current, AwardV3) and current.channel == "kafka"


def _recorded(payload: bytes) -> RecordedEvent:
    return RecordedEvent(position=7, stream_id="s", version=1, event_type="test.Award",
                         payload=msgspec.Raw(payload), metadata=msgspec.Raw(b"{}"),
                         prev_hash=b"\0" * 32, hash=b"\0" * 32)


def test_a_payload_from_newer_code_is_refused_not_guessed() -> None:
    payload = (b'{"_class_version":4,"document":{},"grade_scale":"x","grade_value":"1",'
               b'"learner_key":"k"}')
    with pytest.raises(MalformedEvent, match="newer than this code"):
        NEW.decode(_recorded(payload))


def test_a_missing_upcaster_is_an_error() -> None:
    class Skipped(Event, frozen=True, kw_only=True):
        event_type: ClassVar[str] = "test.Award"
        class_version: ClassVar[int] = 2
        learner: str

    with pytest.raises(MalformedEvent, match="no upcaster from version 1 to 2"):
        EventCatalog(Skipped).decode(_recorded(b'{"learner":"k"}'))
