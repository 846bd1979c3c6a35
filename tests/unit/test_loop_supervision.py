"""`supervise` keeps a background loop (the job worker) alive: what it raises
is logged when it happens and the loop restarts after a growing pause."""

from __future__ import annotations

import asyncio
import logging

from services.verification.supervision import Backoff, LoopHealth, supervise


class FailsTwice:
    def __init__(self) -> None:
        self.calls = 0
        self.healthy_while_running: list[bool] = []

    async def __call__(self, stop: asyncio.Event, health: LoopHealth) -> None:
        self.calls += 1
        self.healthy_while_running.append(health.running)
        if self.calls <= 2:
            raise RuntimeError(f"failure {self.calls}")
        await stop.wait()


async def test_a_failing_loop_is_logged_at_once_and_restarted(caplog):
    stop, health, loop = asyncio.Event(), LoopHealth(), FailsTwice()
    caplog.set_level(logging.ERROR)
    task = asyncio.create_task(supervise("test loop", lambda s: loop(s, health), stop, health,
                                         Backoff(first=0.01, longest=0.02)))
    while loop.calls < 3:
        await asyncio.sleep(0.01)
    assert health.running and health.restarts == 2
    failures = [r for r in caplog.records if r.getMessage() == "test loop failed; restarting"]
    assert [str(r.exc_info[1]) for r in failures] == ["failure 1", "failure 2"]
    stop.set()
    await task
    assert not health.running and loop.healthy_while_running == [True, True, True]
