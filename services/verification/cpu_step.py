"""How long one request's work holds the event loop, in CPU time.

A worker's requests share one event loop: while one runs, every other waits.
Each long piece of work (a request's slices of items, the pieces of its
answer, a job's lines) asks its `CpuStep` whether this step of the task has
used its CPU quantum, and yields to the loop only then. The quantum is
counted in `time.thread_time`, the CPU this thread actually used: on a
shared machine a worker is often preempted mid-step, and wall time would
then count the other processes' turns as this request's cost (shrinking its
next slices for nothing), while the loop's other requests waited only for
the CPU the step really used.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque

# The CPU one step of a request may use before it yields, unless its kind of
# items asks for longer (documents: batch.SLICE_SECONDS). A small request
# waits behind a few such steps of the others (at its accept, its body's
# reads, its handler's start). 2 ms steps were tried (round seven): in
# process they cost ~3 % more CPU per id, but the service answered by id
# ~15 % fewer items per CPU second and the 1,000-item p50 under load rose.
QUANTUM = 0.005


class CpuStep:
    """The CPU time used since the task last gave the loop a turn."""

    def __init__(self) -> None:
        self.began = time.thread_time()

    def spent(self) -> float:
        return time.thread_time() - self.began

    async def yield_now(self) -> None:
        await _turns_of(asyncio.get_running_loop()).take()
        self.began = time.thread_time()

    async def yield_if_spent(self, quantum: float) -> None:
        """Yield when this step has used `quantum` seconds of CPU; otherwise go on at once."""
        if self.spent() >= quantum:
            await self.yield_now()


class _Turns:
    """The long steps of one event loop go on one per round of the loop.

    Every callback ready when a round begins runs in that round, so with
    sleep(0) two large requests on a worker would both run a quantum in
    each round, and a small request, which waits a round at its accept, its
    body's read and its handler's start, would wait two quanta each time.
    Here a step that yields queues for its turn, and one turn is granted per
    round: a round holds one quantum of long work however many requests
    share the loop, and their work is not slowed (the loop is never idle
    while one waits; they alternate). Granting needs no step to end: a
    request that finishes or is cancelled holds no turn."""

    def __init__(self) -> None:
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.granting = False

    async def take(self) -> None:
        loop = asyncio.get_running_loop()
        turn = loop.create_future()
        self.waiting.append(turn)
        if not self.granting:
            self.granting = True
            loop.call_soon(self._grant)
        await turn

    def _grant(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():  # a cancelled request's turn goes to the next
                turn.set_result(None)
                break
        if self.waiting:
            asyncio.get_running_loop().call_soon(self._grant)
        else:
            self.granting = False


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = weakref.WeakKeyDictionary()


def _turns_of(loop: asyncio.AbstractEventLoop) -> _Turns:
    turns = _TURNS.get(loop)
    if turns is None:
        turns = _TURNS[loop] = _Turns()
    return turns
