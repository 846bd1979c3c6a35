"""Starting the project's real processes from tests, and reaping them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def start(args: list[str], settings: Settings, log_path: Path, **extra_env: str) -> subprocess.Popen:
    env = {**os.environ, **settings.to_env(), **extra_env}
    return subprocess.Popen(
        [sys.executable, *args], env=env, cwd=ROOT,
        stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def kill_hard(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_hard(process)


def http_get(url: str) -> tuple[int, bytes, str]:
    """Status, body and content type of a GET to a started process; status
    0 while nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]
    except OSError:
        return 0, b"", ""
