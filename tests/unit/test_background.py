"""Background loops are restarted when they fail and report it while they do."""

from __future__ import annotations

import asyncio

from shared.background import BackgroundLoop, running


async def test_a_failing_body_is_logged_and_restarted_with_backoff(caplog) -> None:
    calls: list[float] = []

    async def body(stop: asyncio.Event) -> None:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) < 3:
            raise RuntimeError("poison")
        await stop.wait()

    loop = BackgroundLoop("worker", body, first_backoff=0.05, settle_seconds=0.2)
    async with running(loop):
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        assert loop.failures == 2 and loop.last_error == "RuntimeError: poison"
        assert not loop.healthy  # restarted, but not yet for settle_seconds
        await asyncio.sleep(0.25)
        assert loop.healthy
    assert calls[2] - calls[1] >= 2 * (calls[1] - calls[0]) * 0.9  # backoff doubled
    assert [r.message for r in caplog.records].count("background loop failed; restarting") == 2


async def test_stop_waits_for_the_body_to_finish_its_step() -> None:
    finished = asyncio.Event()

    async def body(stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.sleep(0.02)  # a step in flight when stop was asked
        finished.set()

    loop = BackgroundLoop("publisher", body)
    async with running(loop):
        await asyncio.sleep(0.01)
        assert loop.healthy
    assert finished.is_set() and not loop.healthy


async def test_a_body_that_returns_early_is_restarted() -> None:
    runs = 0

    async def body(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            await stop.wait()

    loop = BackgroundLoop("relay", body, first_backoff=0.01)
    async with running(loop):
        while runs < 2:
            await asyncio.sleep(0.01)
    assert runs == 2 and loop.failures == 0
