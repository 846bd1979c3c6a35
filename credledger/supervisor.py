"""Keeping `credledger up`'s children running, as systemd or Kubernetes would.

A child that exits (a crash, `kill -9`, an out-of-memory kill) is started
again after a pause that doubles with each failure that follows a start
closely (0.5 s, 1 s, 2 s ... up to 30 s); one that had run steadily for a
while starts over at the shortest pause. After `MAX_FAST_FAILURES` fast
failures in a row the supervisor gives up on that child with a line saying
so, and keeps the others running: a service that cannot start (a port
taken, a broken configuration) should not take the rest down with it, nor
be restarted in a tight loop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FIRST_PAUSE = 0.5
LONGEST_PAUSE = 30.0
# A child that ran this long before exiting was running fine: its exit is
# a new incident, not one more failure to start.
STEADY_SECONDS = 30.0
MAX_FAST_FAILURES = 5

Say = Callable[[str], None]


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen]
    stop: Callable[[subprocess.Popen], None]
    process: subprocess.Popen
    started_at: float = field(default_factory=time.monotonic)
    fast_failures: int = 0
    restart_at: float | None = None
    given_up: bool = False

    def stop_current(self) -> None:
        self.stop(self.process)


class Supervisor:
    def __init__(self, say: Say, log_dir: Path) -> None:
        self._say = say
        self._log_dir = log_dir
        self.children: dict[str, Child] = {}

    def adopt(self, name: str, process: subprocess.Popen, start: Callable[[], subprocess.Popen],
              stop: Callable[[subprocess.Popen], None]) -> Child:
        """Supervise a child already started (and waited for) by the caller."""
        child = self.children[name] = Child(name, start, stop, process)
        return child

    def tend(self, now: float | None = None) -> None:
        """Notice exits and restart what is due; call it every fraction of a second."""
        now = time.monotonic() if now is None else now
        for child in self.children.values():
            if child.given_up:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child, now)
            elif child.process.poll() is not None:
                self._exited(child, now)

    def _exited(self, child: Child, now: float) -> None:
        code = child.process.returncode
        _reap_group(child.process)
        ran = now - child.started_at
        child.fast_failures = child.fast_failures + 1 if ran < STEADY_SECONDS else 1
        if child.fast_failures > MAX_FAST_FAILURES:
            child.given_up = True
            self._say(f"{child.name} exited with code {code}: {child.fast_failures} failures in a row, each within"
                      f" {STEADY_SECONDS:.0f}s of starting; giving up on {child.name}"
                      f" (see {self._log_dir / (child.name + '.log')}). The rest keeps running;"
                      " fix the cause and restart `credledger up`")
            return
        pause = min(FIRST_PAUSE * 2 ** (child.fast_failures - 1), LONGEST_PAUSE)
        child.restart_at = now + pause
        self._say(f"{child.name} exited with code {code} after {ran:.1f}s; restarting in {pause:.1f}s")

    def _restart(self, child: Child, now: float) -> None:
        child.restart_at = None
        child.started_at = now
        try:
            child.process = child.start()
        except (OSError, RuntimeError) as exc:
            self._say(f"{child.name} could not be started: {exc}")
            # Counted like any failure to start: poll() shows the exit on the next round.
            return
        self._say(f"{child.name} restarted (pid {child.process.pid})")


def _reap_group(process: subprocess.Popen) -> None:
    """Whatever the dead child left in its process group (worker processes) goes with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
