"""Waiting for asynchronous outcomes in tests, and the relay that causes them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from shared.ledger.delivery.relay import Relay
from shared.settings import Settings

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 15.0, interval: float = 0.02
) -> T:
    """Poll `probe` until it returns something other than None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (result := await probe()) is not None:
            return result
        await asyncio.sleep(interval)
    raise AssertionError("condition not reached in time")


@contextlib.asynccontextmanager
async def running_relay(settings: Settings, poll_interval: float = 0.1) -> AsyncIterator[None]:
    """The relay in-process, so ledger events reach consumers through the broker."""
    stop = asyncio.Event()
    relay = Relay(settings.database_url, settings.kafka_bootstrap_servers, settings.topic("ledger"),
                  partitions=settings.kafka_partitions, poll_interval=poll_interval)
    task = asyncio.create_task(relay.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
