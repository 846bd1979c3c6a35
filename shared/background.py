"""Background loops: started with a service, stopped with it, restarted when they fail.

Every service runs long-lived coroutines beside its HTTP routes (projection
runners, the status-list publisher, the job worker, housekeeping, the relay
and the checkpointer). Each is written as `async def run(stop: asyncio.Event)`
that returns once `stop` is set. `BackgroundLoop` owns the rest, once:

- a loop that raises is logged at once (with its traceback, when it happens,
  not at shutdown) and restarted after an exponential backoff, so one bad
  input or a passing outage never leaves a service up but silently idle;
- a loop that keeps failing stays visible: `healthy` is False from a failure
  until a restarted run has lasted `settle_seconds`, and readiness reports it;
- stopping sets the event and waits for the loop to finish its current step,
  so no work is cut off half-way (the loops themselves keep steps short).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)

LoopBody = Callable[[asyncio.Event], Awaitable[None]]


class BackgroundLoop:
    def __init__(
        self,
        name: str,
        body: LoopBody,
        *,
        first_backoff: float = 0.5,
        max_backoff: float = 30.0,
        settle_seconds: float = 10.0,
        affects_readiness: bool = True,
    ) -> None:
        self.name = name
        self.affects_readiness = affects_readiness
        self.failures = 0
        self.last_error = ""
        self._body = body
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._settle_seconds = settle_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running_since: float | None = None

    @property
    def healthy(self) -> bool:
        if self._task is None or self._task.done() or self._running_since is None:
            return False
        return self.failures == 0 or time.monotonic() - self._running_since >= self._settle_seconds

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"loop:{self.name}")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _supervise(self) -> None:
        backoff = self._first_backoff
        while not self._stop.is_set():
            started = self._running_since = time.monotonic()
            try:
                await self._body(self._stop)
            except Exception as exc:  # noqa: BLE001 - any failure of the body is contained here
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("background loop failed; restarting", extra={
                    "loop": self.name, "failures": self.failures, "retry_in_s": round(backoff, 2)})
            else:
                if self._stop.is_set():
                    return
                log.warning("background loop returned before stop; restarting", extra={"loop": self.name})
            self._running_since = None
            if time.monotonic() - started >= self._settle_seconds:
                backoff = self._first_backoff
            await self._sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


@contextlib.asynccontextmanager
async def running(*loops: BackgroundLoop) -> AsyncIterator[None]:
    """Run `loops` for the duration of the block; stop them all on the way out."""
    for loop in loops:
        loop.start()
    try:
        yield
    finally:
        await asyncio.gather(*(loop.stop() for loop in loops))
