"""Group commit (shared/ledger/eventstore/sequencer.py) through real Postgres: many
concurrent appenders share transactions, and one caller's conflict, bad
event or failing stage never takes another caller's events down with it."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest

from shared.ledger.eventstore.store import NO_STREAM, AppendConflict, Ledger, NewEvent
from shared.ledger.transparency.audit import verify_chain
from tests.support.events import TEST_CATALOG, TEST_METADATA, Noted


class StageRefused(Exception):
    pass


@pytest.fixture
async def ledger(db) -> Ledger:
    await db.execute("CREATE TABLE public.staged (caller text PRIMARY KEY)")
    await db.execute("GRANT ALL ON public.staged TO credledger_app")
    return Ledger(db, TEST_CATALOG)


def staging(caller: str, *, fail: bool = False, keep: slice = slice(None)):
    async def stage(conn: asyncpg.Connection):
        await conn.execute("INSERT INTO public.staged (caller) VALUES ($1)", caller)
        if fail:
            raise StageRefused(caller)
        return stage.events[keep]

    return stage


async def append_as(ledger: Ledger, caller: str, kind: str) -> list[int]:
    """One caller of a given kind; its events' texts all start with its name."""
    events = [NewEvent(f"{caller}-s{i}", Noted(text=f"{caller}/{i}", n=i)) for i in range(3)]
    match kind:
        case "plain":
            return await ledger.append(events, TEST_METADATA)
        case "new-stream":  # callers 'dup-k-a' and 'dup-k-b' race for one new stream
            shared = caller.rsplit("-", 1)[0]
            return await ledger.append([NewEvent(shared, Noted(text=f"{caller}/0"))], TEST_METADATA,
                                       {shared: NO_STREAM})
        case "bad":
            return await ledger.append(events + [NewEvent('bad "id', Noted(text=f"{caller}/x"))], TEST_METADATA)
        case "staged" | "staged-fails" | "staged-subset":
            stage = staging(caller, fail=kind == "staged-fails", keep=slice(0, 2) if kind == "staged-subset" else slice(None))
            stage.events = events
            return await ledger.append(events, TEST_METADATA, stage=stage)
        case "staged-conflict":  # expects a stream that a plain caller already wrote
            stage = staging(caller)
            stage.events = events
            return await ledger.append(events, TEST_METADATA, {"seed": NO_STREAM}, stage=stage)
    raise AssertionError(kind)


KINDS = ["plain", "plain", "staged", "bad", "plain", "staged-fails", "staged-subset", "staged-conflict"]


async def test_concurrent_appenders_each_get_their_own_outcome(ledger, db):
    await ledger.append([NewEvent("seed", Noted(text="seed/0"))], TEST_METADATA)
    callers = {f"c{i}": KINDS[i % len(KINDS)] for i in range(96)}
    callers |= {f"dup-{k}-{side}": "new-stream" for k in range(8) for side in "ab"}
    names = list(callers)
    results = await asyncio.gather(*(append_as(ledger, name, callers[name]) for name in names),
                                   return_exceptions=True)
    outcome = dict(zip(names, results, strict=True))

    rows = await db.fetch("SELECT position, stream_id, version, payload, xmin::text::bigint AS tx"
                          " FROM ledger.events ORDER BY position")
    assert [r["position"] for r in rows] == list(range(1, len(rows) + 1))  # gap-free
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok
    texts = [msgspec.json.decode(r["payload"])["text"] for r in rows]
    assert len(texts) == len(set(texts))  # every event exactly once
    by_position = dict(zip((r["position"] for r in rows), texts, strict=True))
    staged = {r["caller"] for r in await db.fetch("SELECT caller FROM public.staged")}

    for name, kind in callers.items():
        result = outcome[name]
        written = sorted(t for t in texts if t.startswith(f"{name}/"))
        if kind in ("plain", "staged", "staged-subset"):
            expected = 2 if kind == "staged-subset" else 3
            assert isinstance(result, list) and len(result) == expected, (name, result)
            # each caller's positions hold exactly its own events, in order
            assert [by_position[p] for p in result] == [f"{name}/{i}" for i in range(expected)]
            assert written == [f"{name}/{i}" for i in range(expected)]
            assert (name in staged) == kind.startswith("staged")
        elif kind == "bad":
            assert isinstance(result, ValueError) and written == []
        elif kind == "staged-fails":
            assert isinstance(result, StageRefused) and written == [] and name not in staged
        elif kind == "staged-conflict":
            assert isinstance(result, AppendConflict) and written == [] and name not in staged
            assert (result.stream_id, result.expected, result.actual) == ("seed", 0, 1)
    for k in range(8):
        a, b = outcome[f"dup-{k}-a"], outcome[f"dup-{k}-b"]
        assert sorted([isinstance(a, list), isinstance(b, list)]) == [False, True]  # exactly one wins
        assert isinstance(b if isinstance(a, list) else a, AppendConflict)
        assert [r["version"] for r in rows if r["stream_id"] == f"dup-{k}"] == [1]

    # Appends really were grouped: far fewer transactions than callers.
    transactions = {r["tx"] for r in rows}
    successful = sum(isinstance(r, list) and r != [] for r in results)
    assert len(transactions) < successful / 2, (len(transactions), successful)


async def test_a_lone_append_is_written_at_once_and_versions_continue(ledger):
    assert await ledger.append([NewEvent("s", Noted(text="1"))], TEST_METADATA, {"s": NO_STREAM}) == [1]
    assert await ledger.append([NewEvent("s", Noted(text="2"))], TEST_METADATA, {"s": 1}) == [2]
    with pytest.raises(AppendConflict):
        await ledger.append([NewEvent("s", Noted(text="3"))], TEST_METADATA, {"s": 1})
    assert [e.version for e in await ledger.read_stream("s")] == [1, 2]


async def test_a_stage_may_keep_only_events_it_was_given(ledger):
    async def stage(conn):
        return [NewEvent("elsewhere", Noted(text="smuggled"))]

    with pytest.raises(ValueError, match="only keep events it was given"):
        await ledger.append([NewEvent("s", Noted(text="x"))], TEST_METADATA, stage=stage)
    assert await ledger.head_position() == 0


async def test_many_single_event_writers_keep_per_stream_order(ledger, db):
    async def writer(w: int) -> None:
        for i in range(25):
            await ledger.append([NewEvent(f"w{w}", Noted(text=f"{w}-{i}", n=i))], TEST_METADATA, {f"w{w}": i})

    await asyncio.gather(*(writer(w) for w in range(32)))
    rows = await db.fetch("SELECT stream_id, version, payload FROM ledger.events ORDER BY position")
    assert len(rows) == 32 * 25
    for w in range(32):
        mine = [r for r in rows if r["stream_id"] == f"w{w}"]
        assert [r["version"] for r in mine] == list(range(1, 26))
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


async def test_settle_sees_its_own_positions_and_its_failure_is_its_own(ledger, db):
    async def settle_ok(conn, positions):
        await conn.execute("INSERT INTO public.staged (caller) VALUES ($1)", f"ok@{','.join(map(str, positions))}")

    async def settle_fails(conn, positions):
        await conn.execute("INSERT INTO public.staged (caller) VALUES ('failed')")
        raise StageRefused("settle")

    async def one(name: str, settle):
        return await ledger.append([NewEvent(name, Noted(text=name)), NewEvent(name, Noted(text=name + "+"))],
                                   TEST_METADATA, settle=settle)

    ok, failed, plain = await asyncio.gather(one("a", settle_ok), one("b", settle_fails), one("c", None),
                                             return_exceptions=True)
    assert isinstance(failed, StageRefused)
    assert sorted(ok + plain) == [1, 2, 3, 4]
    assert {r["caller"] for r in await db.fetch("SELECT caller FROM public.staged")} == {
        f"ok@{ok[0]},{ok[1]}"}
    assert {r["stream_id"] for r in await db.fetch("SELECT stream_id FROM ledger.events")} == {"a", "c"}


async def test_an_excluded_caller_hears_of_it_after_the_rest_of_its_group_committed(ledger):
    async def refused(conn):
        raise StageRefused("b")

    async def caller_b() -> int:
        with pytest.raises(StageRefused):
            await ledger.append([NewEvent("b", Noted(text="b"))], TEST_METADATA, stage=refused)
        return await ledger.head_position()  # what it finds when told: the group's commit

    a, seen_by_b = await asyncio.gather(ledger.append([NewEvent("a", Noted(text="a"))], TEST_METADATA), caller_b())
    assert a == [1] and seen_by_b == 1


class SharedStage:
    """A stage whose callers' writes share one statement (the sequencer's `together`)."""

    calls: list[int] = []

    def __init__(self, caller: str, events: list[NewEvent], outcome: str) -> None:
        self.caller, self.events, self.outcome = caller, events, outcome

    async def __call__(self, conn: asyncpg.Connection) -> list[NewEvent]:
        [result] = await self.together(conn, [self])
        if isinstance(result, Exception):
            raise result
        return result

    @staticmethod
    async def together(conn: asyncpg.Connection, stages: list[SharedStage]) -> list[list[NewEvent] | Exception]:
        SharedStage.calls.append(len(stages))
        await conn.execute("INSERT INTO public.staged (caller) SELECT unnest($1::text[])", [s.caller for s in stages])
        if any(s.outcome == "poison" for s in stages):
            raise StageRefused("no one caller to blame")  # the group's failure: retried caller by caller
        return [StageRefused(s.caller) if s.outcome == "refused" else s.events for s in stages]


async def test_stages_that_run_together_share_a_call_and_still_fail_alone(ledger, db):
    await ledger.append([NewEvent("seed", Noted(text="seed/0"))], TEST_METADATA)
    SharedStage.calls.clear()
    kinds = ["ok", "ok", "ok", "refused", "ok", "conflict", "ok", "plain"] * 6 + ["poison"]

    async def one(i: int, kind: str) -> list[int]:
        name = f"t{i}"
        events = [NewEvent(f"{name}-s{n}", Noted(text=f"{name}/{n}")) for n in range(2)]
        if kind == "plain":
            return await ledger.append(events, TEST_METADATA)
        expected = {"seed": NO_STREAM} if kind == "conflict" else None
        return await ledger.append(events, TEST_METADATA, expected, stage=SharedStage(name, events, kind))

    results = await asyncio.gather(*(one(i, k) for i, k in enumerate(kinds)), return_exceptions=True)
    rows = await db.fetch("SELECT position, payload FROM ledger.events ORDER BY position")
    assert [r["position"] for r in rows] == list(range(1, len(rows) + 1))
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok
    texts = [msgspec.json.decode(r["payload"])["text"] for r in rows]
    staged = {r["caller"] for r in await db.fetch("SELECT caller FROM public.staged")}
    for i, (kind, result) in enumerate(zip(kinds, results, strict=True)):
        name, written = f"t{i}", [t for t in texts if t.startswith(f"t{i}/")]
        if kind in ("ok", "plain"):
            assert isinstance(result, list) and len(result) == 2, (name, result)
            assert written == [f"{name}/0", f"{name}/1"]
            assert (name in staged) == (kind == "ok")
        else:
            expected_error = AppendConflict if kind == "conflict" else StageRefused
            assert isinstance(result, expected_error), (name, result)
            assert written == [] and name not in staged
    assert max(SharedStage.calls) > 1  # callers of one group really shared a call


class FusedStage(SharedStage):
    """A stage that can also run fused: its writes and the append in one statement."""

    fused_calls: list[list[str]] = []

    @staticmethod
    async def fused(conn: asyncpg.Connection, stages: list[FusedStage], append_arguments) -> asyncpg.Record:
        FusedStage.fused_calls.append([s.caller for s in stages])
        if any(s.outcome != "ok" for s in stages):  # declined before a statement is sent
            raise StageRefused("not every caller would keep all its events")
        # A caller already staged makes the insert fail: the whole statement
        # rolls back, the staged way takes over.
        return await conn.fetchrow(
            "WITH staged AS (INSERT INTO public.staged (caller) SELECT unnest($1::text[]))"
            " SELECT * FROM ledger.append_events($2, $3, $4, $5, $6, $7, $8, $9)",
            [s.caller for s in stages], *append_arguments)


async def test_a_lone_fused_stage_is_one_statement_that_commits_its_writes_with_its_events(ledger, db):
    FusedStage.fused_calls.clear()
    events = [NewEvent("f-s0", Noted(text="f/0")), NewEvent("f-s1", Noted(text="f/1"))]
    assert await ledger.append(events, TEST_METADATA, stage=FusedStage("f", events, "ok")) == [1, 2]
    assert FusedStage.fused_calls == [["f"]]
    rows = await db.fetch("SELECT xmin::text AS tx FROM ledger.events UNION ALL"
                          " SELECT xmin::text FROM public.staged")
    assert len(rows) == 3 and len({r["tx"] for r in rows}) == 1  # one transaction: writes and events
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


async def test_a_fused_group_that_fails_is_written_the_staged_way_each_caller_alone(ledger, db):
    await db.execute("INSERT INTO public.staged (caller) VALUES ('taken')")  # the fused insert of 'taken' fails
    FusedStage.fused_calls.clear()
    SharedStage.calls.clear()
    kinds = {"a": "ok", "taken": "ok", "b": "refused", "c": "ok"}

    async def one(name: str, kind: str) -> list[int]:
        events = [NewEvent(f"{name}-s", Noted(text=f"{name}/0"))]
        return await ledger.append(events, TEST_METADATA, stage=FusedStage(name, events, kind))

    results = dict(zip(kinds, await asyncio.gather(*(one(n, k) for n, k in kinds.items()), return_exceptions=True),
                       strict=True))
    assert FusedStage.fused_calls and SharedStage.calls  # tried whole, then staged
    assert isinstance(results["b"], StageRefused)
    assert isinstance(results["taken"], asyncpg.UniqueViolationError)  # its own stage's failure, alone
    assert all(isinstance(results[n], list) and len(results[n]) == 1 for n in ("a", "c"))
    texts = {msgspec.json.decode(r["payload"])["text"] for r in await db.fetch("SELECT payload FROM ledger.events")}
    assert texts == {"a/0", "c/0"}
    assert {r["caller"] for r in await db.fetch("SELECT caller FROM public.staged")} == {"taken", "a", "c"}
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


async def test_callers_without_the_fused_stage_keep_the_group_staged(ledger, db):
    FusedStage.fused_calls.clear()
    fused_events, other_events = [NewEvent("x", Noted(text="x/0"))], [NewEvent("y", Noted(text="y/0"))]
    results = await asyncio.gather(
        ledger.append(fused_events, TEST_METADATA, stage=FusedStage("x", fused_events, "ok")),
        ledger.append(other_events, TEST_METADATA, stage=SharedStage("y", other_events, "ok")))
    assert sorted(p for r in results for p in r) == [1, 2]
    transactions = {r["tx"] for r in await db.fetch("SELECT xmin::text AS tx FROM ledger.events")}
    if len(transactions) == 1:  # one group: the stage without `fused` kept it staged
        assert FusedStage.fused_calls == []
    assert {r["caller"] for r in await db.fetch("SELECT caller FROM public.staged")} == {"x", "y"}


class CountingPool:
    """The fixture's pool, counting checkouts and returns."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.acquired = 0
        self.released = 0

    async def acquire(self):
        self.acquired += 1
        return await self.pool.acquire()

    async def release(self, conn) -> None:
        self.released += 1
        await self.pool.release(conn)


async def test_a_group_task_keeps_its_connection_while_its_callers_append_again(db):
    pool = CountingPool(db)
    ledger = Ledger(pool, TEST_CATALOG)  # type: ignore[arg-type]

    async def writer(w: int) -> None:
        for i in range(20):
            await ledger.append([NewEvent(f"w{w}", Noted(text=f"{w}-{i}", n=i))], TEST_METADATA, {f"w{w}": i})

    await asyncio.gather(*(writer(w) for w in range(4)))
    for _ in range(3):  # the group task returns its connection as it ends, a pass or two later
        await asyncio.sleep(0)
    # 20 groups of 4, one checkout: the answered callers requeue before the task looks again.
    assert (pool.acquired, pool.released) == (1, 1)
    assert await db.fetchval("SELECT count(*) FROM ledger.events") == 80
    async with db.acquire() as conn:
        assert (await verify_chain(conn)).ok


async def test_a_failed_attempt_returns_its_connection_and_the_next_group_gets_another(ledger, db):
    counting = CountingPool(db)
    ledger.pool = counting  # type: ignore[assignment]
    with pytest.raises(StageRefused):
        await append_as(ledger, "refused", "staged-fails")
    assert await append_as(ledger, "after", "plain") == [1, 2, 3]
    for _ in range(3):
        await asyncio.sleep(0)
    assert counting.acquired == counting.released >= 2
