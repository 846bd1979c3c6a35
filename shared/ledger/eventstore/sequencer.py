"""Group commit: appends that arrive while others are in flight share one
transaction, one append lock, one head read, one COPY and one commit.

Each append takes the ledger's EXCLUSIVE lock until its commit, so
single-event appends from concurrent requests used to queue for one fsync
each. Here a caller queues its (already encoded) events and waits; a group
task takes everything queued, up to `max_events`, and writes it in one
transaction. Like Postgres's commit_delay / commit_siblings and Tessera's
batching sequencer, it trades a bounded wait for throughput: a lone append
is written at once, and a group waits (`delay`, default one pass of the
event loop) only while another group holds the lock, when its callers would
wait anyway. At most `groups` transactions are open: one holds the lock
while the next runs its callers' stages, so the lock covers only the append.
A group task keeps its pool connection while callers keep queueing (those
just answered usually append again within one pass of the event loop).

A caller is answered only after the commit that holds its events. Its own
failure is its own:
- a bad event fails in `Ledger.prepare`, in the caller, before queueing;
- a conflicting expected version (checked under the lock, callers in queue
  order) fails that caller alone; the others' events are written as if it
  had not been there;
- a stage (the caller's writes in the same transaction, see below) that
  raises, or a conflicting caller that had staged writes, rolls the group's
  transaction back and the group is written again without that caller:
  savepoints cost two round trips per caller, and this path is rare;
- a database error no one caller can be blamed for is retried caller by
  caller, so only the offending one sees it.

A stage is `async (conn) -> events`: it runs in the group's transaction
before the lock (issuance claims its references there, revocation writes
its read model through) and returns which of the caller's events to append.
Its writes commit exactly when its events do. A stage with a `together`
attribute, `async (conn, stages) -> [events or exception, per stage]`, is
run once for all the group's callers whose stages share that function, so
their writes share statements (one claim INSERT for the whole group, not
one per caller); an exception returned for a stage is that caller's
failure alone, one raised is the group's and sends it caller by caller. A settle, `async (conn,
positions) -> None`, runs after the COPY, under the lock, for the few writes
that need the positions (a stored response that quotes them): one statement,
or the lock is no longer the append's alone.

A group whose every caller's stage has the same `fused` function, `async
(conn, stages, append_arguments) -> row`, and no settle, small enough for one
ledger.append_events call, is first written as one statement outside any
transaction (so a lone request is one round trip, not BEGIN, stage, append
and COMMIT): the function runs the stages' writes as if each kept all its
events, then ledger.append_events with `append_arguments`, and returns that
function's row; it commits everything as it returns, or raises having
written nothing. Then, or when the statement fails for any other reason, the
group is written the staged way above, which answers each caller alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.db.pool import Connection

if TYPE_CHECKING:
    from shared.ledger.eventstore.store import AppendConflict, Ledger, NewEvent, PreparedAppend

Stage = Callable[[Connection], Awaitable["Sequence[NewEvent]"]]
Together = Callable[[Connection, list[Any]], Awaitable["list[Sequence[NewEvent] | Exception]"]]
Settle = Callable[[Connection, list[int]], Awaitable[None]]
Fused = Callable[[Connection, list[Any], Sequence[list[Any]]], Awaitable[asyncpg.Record]]


@dataclass(slots=True)
class _Waiter:
    append: PreparedAppend
    stage: Stage | None
    settle: Settle | None
    future: asyncio.Future[list[int]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def answer(self, positions: list[int]) -> None:
        if not self.future.done():
            self.future.set_result(positions)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class _Excluded(Exception):
    """Roll the group back and write it again without these callers."""

    def __init__(self, failed: Sequence[tuple[_Waiter, BaseException]]) -> None:
        super().__init__(f"{len(failed)} caller(s) excluded from the group")
        self.failed = failed


class GroupCommit:
    def __init__(self, ledger: Ledger, *, max_events: int = 5000, groups: int = 2, delay: float = 0.0) -> None:
        self._ledger = ledger
        self._max_events = max_events
        self._groups = groups
        self._delay = delay
        self._queue: list[_Waiter] = []
        # Counted by the group tasks themselves: a finished task's done
        # callback runs a loop pass later, after its callers may already
        # have queued again.
        self._leading = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def append(self, append: PreparedAppend, stage: Stage | None = None, settle: Settle | None = None) -> list[int]:
        if not append.events and stage is None:
            return []
        waiter = _Waiter(append, stage, settle)
        self._queue.append(waiter)
        # A second transaction pays only when it has stages to run while the
        # first holds the lock; plain appends wait to share the next one.
        if not self._leading or (self._leading < self._groups and stage is not None):
            self._leading += 1
            task = asyncio.create_task(self._lead())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A caller that gives up (its request cancelled) leaves its events to
        # the group: written or not, it was never acknowledged.
        return await waiter.future

    async def _lead(self) -> None:
        lease = _Lease(self._ledger.pool)
        try:
            while self._queue or await self._requeued():
                if self._leading > 1:
                    await asyncio.sleep(self._delay)
                group = self._take()
                try:
                    await self._write(group, lease)
                finally:
                    for waiter in group:  # the group task cancelled (shutdown): no caller waits forever
                        if not waiter.future.done():
                            waiter.future.cancel()
        finally:
            self._leading -= 1
            await lease.release()

    async def _requeued(self) -> bool:
        """Whether callers queued again within one pass of the event loop: the
        callers of the group just answered run before this task resumes, and
        one that appends again finds this task (and its connection) still
        leading, rather than starting another."""
        await asyncio.sleep(0)
        return bool(self._queue)

    def _take(self) -> list[_Waiter]:
        group: list[_Waiter] = []
        events = 0
        while self._queue and (not group or events + len(self._queue[0].append.events) <= self._max_events):
            waiter = self._queue.pop(0)
            if not waiter.future.done():  # cancelled while queued: nothing to write
                group.append(waiter)
                events += len(waiter.append.events)
        return group

    async def _write(self, group: list[_Waiter], lease: _Lease) -> None:
        # Excluded callers hear of their failure only once the rest of the
        # group is committed: what they find then (a request with the same
        # key that won, say) is what the group wrote.
        excluded: list[tuple[_Waiter, BaseException]] = []
        try:
            await self._write_excluding(group, excluded, lease)
        finally:
            for waiter, error in excluded:
                waiter.fail(error)

    async def _write_excluding(
        self, group: list[_Waiter], excluded: list[tuple[_Waiter, BaseException]], lease: _Lease,
    ) -> None:
        while group:
            try:
                results = await self._attempt(group, lease)
            except _Excluded as failed:
                excluded.extend(failed.failed)
                dropped = {id(w) for w, _ in failed.failed}
                group = [w for w in group if id(w) not in dropped]
                continue
            except Exception as error:  # noqa: BLE001 - answered to the callers, never lost
                if len(group) == 1:
                    group[0].fail(error)
                else:
                    for waiter in group:
                        await self._write_excluding([waiter], excluded, lease)
                return
            _answer(group, results)
            return

    async def _attempt(self, group: list[_Waiter], lease: _Lease) -> list[list[int] | AppendConflict]:
        conn = await lease.connection()
        try:
            results = await self._written(conn, group)
        except BaseException:
            # Whatever state the failure left the connection in, the next
            # attempt starts on a fresh one, as it would from the pool.
            await lease.release()
            raise
        _answer(group, results)  # committed: the callers go on
        return results

    async def _written(self, conn: Connection, group: list[_Waiter]) -> list[list[int] | AppendConflict]:
        appends = [w.append for w in group]
        if all(w.stage is None and w.settle is None for w in group):
            return await self._ledger.write_committed(conn, appends)
        fused = _shared_fused(group)
        if fused is not None and self._ledger.fits_one_call(appends):
            try:
                return await self._ledger.write_fused(conn, fused, [w.stage for w in group], appends)
            except asyncpg.PostgresError:
                # The server rolled the statement back, so nothing was written:
                # the staged way answers each caller. A lost connection is not
                # caught here: whether it committed is unknown, and the group
                # fails as it would have on the staged way.
                pass
        async with conn.transaction():
            return await self._staged_and_written(conn, group)

    async def _staged_and_written(self, conn: Connection, group: list[_Waiter]) -> list[list[int] | AppendConflict]:
        appends = await _staged_group(conn, group)
        results = await self._ledger.write_group(conn, appends)
        staged_conflicts = [(w, r) for w, r in zip(group, results, strict=True)
                            if w.stage is not None and not isinstance(r, list)]
        if staged_conflicts:
            raise _Excluded(staged_conflicts)  # their staged writes must not commit
        for waiter, result in zip(group, results, strict=True):
            if waiter.settle is not None and isinstance(result, list):
                await _settled(conn, waiter, result)
        return results


class _Lease:
    """The connection a group task keeps from one group to the next: while
    callers keep queueing, each group skips the pool's checkout and return
    (and whatever reset the pool does on return), which otherwise sit between
    one group's commit and the next group's statement. Returned to the pool
    when the queue runs dry or an attempt fails."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None

    async def connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        if self._conn is None:
            self._conn = await self._pool.acquire()
        return self._conn

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # Every caller is answered by now; a pool that fails to take the
        # connection back has dropped it.
        with contextlib.suppress(Exception):
            await self._pool.release(conn)


def _shared_fused(group: list[_Waiter]) -> Fused | None:
    """The `fused` function every caller's stage shares, if they share one and none settles."""
    found = {getattr(w.stage, "fused", None) if w.settle is None else None for w in group}
    return found.pop() if len(found) == 1 else None


def _answer(group: list[_Waiter], results: list[list[int] | AppendConflict]) -> None:
    for waiter, result in zip(group, results, strict=True):
        if isinstance(result, list):
            waiter.answer(result)
        else:
            waiter.fail(result)


async def _settled(conn: Connection, waiter: _Waiter, positions: list[int]) -> None:
    try:
        await waiter.settle(conn, positions)  # type: ignore[misc]
    except Exception as error:  # noqa: BLE001 - this caller's failure, not the group's
        raise _Excluded([(waiter, error)]) from error


async def _staged_group(conn: Connection, group: list[_Waiter]) -> list[PreparedAppend]:
    """Every caller's append after its stage; stages that run together first."""
    shared: dict[Together, list[int]] = {}
    for index, waiter in enumerate(group):
        together = getattr(waiter.stage, "together", None)
        if together is not None:
            shared.setdefault(together, []).append(index)
    kept: dict[int, Sequence[NewEvent]] = {}
    failed: list[tuple[_Waiter, BaseException]] = []
    for together, indexes in shared.items():
        for index, outcome in zip(indexes, await together(conn, [group[i].stage for i in indexes]), strict=True):
            if isinstance(outcome, BaseException):
                failed.append((group[index], outcome))
            else:
                kept[index] = outcome
    if failed:
        raise _Excluded(failed)
    return [waiter.append.only(kept[index]) if index in kept else await _staged(conn, waiter)
            for index, waiter in enumerate(group)]


async def _staged(conn: Connection, waiter: _Waiter) -> PreparedAppend:
    if waiter.stage is None:
        return waiter.append
    try:
        return waiter.append.only(await waiter.stage(conn))
    except Exception as error:  # noqa: BLE001 - this caller's failure, not the group's
        raise _Excluded([(waiter, error)]) from error
