"""ledger.append_events (migrations 0240, 0340) as one call: callers are
checked in order against the versions the earlier callers leave, a failed
caller writes nothing and is numbered around, and callers must come in
ascending order."""

from __future__ import annotations

import asyncpg
import pytest

from shared.ledger.eventstore.store import (
    NO_STREAM,
    QUERIES,
    AppendConflict,
    Ledger,
    NewEvent,
    append_arguments,
    append_results,
)
from shared.ledger.transparency.audit import verify_chain
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


def note(stream: str, text: str) -> NewEvent:
    return NewEvent(stream, Noted(text=text))


async def test_callers_see_the_versions_the_earlier_callers_leave(db):
    ledger = Ledger(db, TEST_CATALOG)
    await ledger.append([note("old", "v1"), note("old", "v2")], TEST_METADATA)
    appends = [
        ledger.prepare([note("new", "a"), note("old", "v3")], TEST_METADATA, {"new": NO_STREAM, "old": 2}),
        ledger.prepare([note("new", "b")], TEST_METADATA, {"new": 1}),  # caller 0's event makes it so
        ledger.prepare([note("old", "lost")], TEST_METADATA, {"old": 2}),  # caller 0 moved it on
        ledger.prepare([], TEST_METADATA, {"other": 4, "new": 0}),  # expectations only: its first failure
        ledger.prepare([note("old", "v4"), note("fresh", "x")], TEST_METADATA, {"old": 3}),
    ]
    row = await db.fetchrow(QUERIES["append_events"], *append_arguments(appends))
    results = append_results(row, appends)
    assert results[0] == [3, 4] and results[1] == [5] and results[4] == [6, 7]
    for index, stream, expected, actual in ((2, "old", 2, 3), (3, "other", 4, 0)):
        conflict = results[index]
        assert isinstance(conflict, AppendConflict)
        assert (conflict.stream_id, conflict.expected, conflict.actual) == (stream, expected, actual)
    versions = await db.fetch("SELECT position, stream_id, version FROM ledger.events WHERE position > 2"
                              " ORDER BY position")
    assert [tuple(r) for r in versions] == [(3, "new", 1), (4, "old", 3), (5, "new", 2), (6, "old", 4),
                                            (7, "fresh", 1)]
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


@pytest.mark.parametrize("callers, expected_callers", [
    ([0, 2, 1], []),
    ([0, 1], [1, 0]),
    ([0, None], []),
], ids=["events", "expectations", "null-caller"])
async def test_callers_out_of_order_are_refused_and_nothing_is_written(db, callers, expected_callers):
    n = len(callers)
    arguments = (callers, [f"s{i}" for i in range(n)], ["test.Noted"] * n, [b'{"n":0,"text":"x"}'] * n,
                 [b"{}"] * n, expected_callers, ["s0"] * len(expected_callers), [0] * len(expected_callers))
    with pytest.raises(asyncpg.InvalidParameterValueError, match="callers must be ascending"):
        await db.fetchrow(QUERIES["append_events"], *arguments)
    assert await db.fetchval("SELECT count(*) FROM ledger.events") == 0
