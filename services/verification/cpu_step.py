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
        await asyncio.sleep(0)
        self.began = time.thread_time()

    async def yield_if_spent(self, quantum: float) -> None:
        """Yield when this step has used `quantum` seconds of CPU; otherwise go on at once."""
        if self.spent() >= quantum:
            await self.yield_now()
