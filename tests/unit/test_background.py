"""Background loops are restarted when they fail and report it while they do."""

from __future__ import annotations

import asyncio

from shared.background import BackgroundLoop, running


def _failing_twice(calls: list[int]):
    async def body(stop: asyncio.Event) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("poison")
        await stop.wait()

    return body


async def test_a_failing_body_is_logged_and_restarted_with_backoff(caplog) -> None:
    # The backoff is read from what the loop logs, not from wall-clock gaps,
    # which a loaded machine stretches at random.
    calls: list[int] = []
    loop = BackgroundLoop("worker", _failing_twice(calls), first_backoff=0.05, settle_seconds=60)
    async with running(loop):
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        assert loop.failures == 2 and loop.last_error == "RuntimeError: poison"
        assert not loop.healthy  # restarted, but not yet for settle_seconds
    failed = [r for r in caplog.records if r.message == "background loop failed; restarting"]
    assert [r.retry_in_s for r in failed] == [0.05, 0.1]  # backoff doubled


async def test_a_restarted_loop_is_healthy_again_once_it_has_settled() -> None:
    calls: list[int] = []
    loop = BackgroundLoop("worker", _failing_twice(calls), first_backoff=0.01, settle_seconds=0.1)
    async with running(loop):
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        while not loop.healthy:  # bounded by the test timeout, whatever the load
            await asyncio.sleep(0.01)
        assert loop.failures == 2


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
