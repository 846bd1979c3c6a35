"""`credledger up`: the whole system on one machine, in the foreground.

Order matters on the way up (Postgres, broker, migrations, relay, services,
each waiting for the previous to be ready) and on the way down (services
first so they stop taking requests, then the relay, then the broker, then
Postgres so that every acknowledged write is checkpointed). Children run in
their own process groups: Ctrl-C reaches only this supervisor, which then
stops them in that order. While running, a relay, service or gateway that
exits is restarted with backoff (credledger/supervisor.py).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from credledger.demo import links as demo_links
from credledger.demo import seed as seed_demo
from credledger.embedded import EmbeddedKafka, EmbeddedPostgres, choose_port, port_is_free, stop_process
from credledger.gateway import EmbeddedGateway, nginx_available
from credledger.supervisor import Supervisor
from shared.db.migrate import (
    APP_ROLE,
    apply_migrations,
    ensure_database,
    set_app_role_password,
    with_database,
    with_user,
)
from shared.settings import SERVICE_NAMES, Settings, child_environ, load_settings

EMBEDDED_PG_PORT = 5433
EMBEDDED_KAFKA_PORT = 9092


def say(message: str) -> None:
    print(f"credledger: {message}", flush=True)


async def migrate(settings: Settings) -> int:
    """Apply migrations as the schema owner; the services' role then logs in
    with the password in DATABASE_URL, if it has one."""
    owner_url = settings.migration_database_url or settings.database_url
    await ensure_database(owner_url)
    conn = await asyncpg.connect(owner_url)
    try:
        applied = len(await apply_migrations(conn))
        if settings.migration_database_url:
            await set_app_role_password(conn, settings.database_url)
        return applied
    finally:
        await conn.close()


def spawn(args: list[str], settings: Settings, log_dir: Path, name: str) -> subprocess.Popen:
    env = {**child_environ(dict(os.environ)), **settings.to_env()}
    # The child keeps its own copy of the descriptor; ours closes (restarts must not leak one each).
    with open(log_dir / f"{name}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "credledger", *args],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f}s")


def resolve_backends(home: Path, stack: ExitStack) -> dict[str, str]:
    """Use DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else start embedded ones."""
    overrides: dict[str, str] = {}
    if os.environ.get("DATABASE_URL"):
        overrides["database_url"] = os.environ["DATABASE_URL"]
        say(f"using Postgres at {redacted(overrides['database_url'])}")
        if not os.environ.get("CREDLEDGER_MIGRATION_DATABASE_URL"):
            say("CREDLEDGER_MIGRATION_DATABASE_URL is not set, so the services share the migrations' role")
    else:
        postgres = EmbeddedPostgres(home / "pgdata", choose_port(EMBEDDED_PG_PORT), home / "logs" / "postgres.log")
        postgres.start()
        stack.callback(postgres.stop)
        # The owner migrates; everything else runs as the least-privileged role,
        # which the embedded server (127.0.0.1 only) trusts without a password.
        overrides["migration_database_url"] = with_database(postgres.url, "credledger")
        overrides["database_url"] = with_user(overrides["migration_database_url"], APP_ROLE)
        say(f"embedded Postgres on port {postgres.port}, data in {postgres.data_dir}; services log in as {APP_ROLE}")
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        overrides["kafka_bootstrap_servers"] = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        say(f"using Kafka at {overrides['kafka_bootstrap_servers']}")
    else:
        kafka = EmbeddedKafka(choose_port(EMBEDDED_KAFKA_PORT), home / "logs" / "tansu.log")
        kafka.start()
        stack.callback(kafka.stop)
        overrides["kafka_bootstrap_servers"] = kafka.bootstrap
        say(f"embedded Kafka-compatible broker (Tansu) on {kafka.bootstrap}")
    # Outgoing mail on the embedded default: .eml files in the home's outbox.
    if not os.environ.get("CREDLEDGER_MAIL_OUTBOX"):
        overrides["mail_outbox"] = str(home / "outbox")
    # Development secrets, created once per home. The bootstrap admin key lets
    # a local operator (and --demo) create the first agency over the API.
    secrets = (("log_signing_key", "log-signing-key"), ("master_key", "master-key"),
               ("learner_key_secret", "learner-key-secret"), ("bootstrap_admin_key", "bootstrap-admin-key"))
    for setting, filename in secrets:
        if not os.environ.get(f"CREDLEDGER_{setting.upper()}"):
            overrides[setting] = local_secret(home, filename)
    return overrides


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def local_secret(home: Path, name: str) -> str:
    """A 32-byte secret created once per home and kept: checkpoints signed and
    keys sealed before a restart must still verify and open after it."""
    path = home / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(base64.b64encode(os.urandom(32)).decode())
    return path.read_text().strip()


def up(home: Path, demo: bool = False) -> int:
    home = home.resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with ExitStack() as stack:
        overrides = resolve_backends(home, stack)
        if not nginx_available() and "CREDLEDGER_PAGES_WITHOUT_GATEWAY" not in os.environ:
            overrides["pages_without_gateway"] = True
        settings = load_settings(**overrides)
        applied = asyncio.run(migrate(settings))
        say(f"migrations applied: {applied}")
        supervisor = Supervisor(say, home / "logs")
        start_children(settings, home / "logs", stack, supervisor)
        start_gateway(settings, home, stack, supervisor)
        if demo:
            demo_file = asyncio.run(seed_demo(settings, home))
            say(f"demo data: {demo_file}")
            for line in demo_links(demo_file):
                say(line)
        say(f"ready in {time.monotonic() - started:.1f}s; logs in {home / 'logs'}; Ctrl-C stops everything")
        while not stopping:
            supervisor.tend()
            time.sleep(0.2)
        say("stopping")
    say("stopped")
    return 0


def start_gateway(settings: Settings, home: Path, stack: ExitStack, supervisor: Supervisor) -> None:
    """nginx in front of the services when it is installed; without it the
    services still answer on their own ports, so its absence is no error."""
    if not nginx_available():
        say("nginx is not installed, so no gateway (Debian: apt-get install nginx); use the ports above")
        return
    if not port_is_free(settings.gateway_port):
        say(f"port {settings.gateway_port} is in use, so no gateway (set CREDLEDGER_GATEWAY_PORT)")
        return
    gateway = EmbeddedGateway(settings, home / "gateway")
    gateway.start()

    def restart() -> subprocess.Popen:
        gateway.start()
        return gateway.process  # type: ignore[return-value]

    child = supervisor.adopt("gateway", gateway.process, restart, lambda _: gateway.stop())  # type: ignore[arg-type]
    # Registered last, stopped first: no new requests reach stopping services.
    stack.callback(child.stop_current)
    say(f"{'gateway':<13} {gateway.url}  (logs: {home / 'gateway' / 'logs'})")


def start_children(settings: Settings, log_dir: Path, stack: ExitStack,
                   supervisor: Supervisor | None = None) -> dict[str, subprocess.Popen]:
    """Start the relay, the four services and the Kafka intake, supervised;
    ExitStack stops them in reverse."""
    supervisor = supervisor or Supervisor(say, log_dir)
    for name, args in (("relay", ["relay"]), *((service, ["serve", service]) for service in SERVICE_NAMES),
                       ("intake", ["intake"])):
        start = functools.partial(spawn, args, settings, log_dir, name)
        child = supervisor.adopt(name, start(), start, stop_process)
        stack.callback(child.stop_current)
    for service in SERVICE_NAMES:
        url = settings.url_of(service)
        wait_ready(url, supervisor.children[service].process)
        say(f"{service:<13} {url}  (openapi: {url}/openapi.json)")
    intake_url = f"http://{settings.host}:{settings.intake_port}"
    wait_ready(intake_url, supervisor.children["intake"].process)
    say(f"{'intake':<13} {intake_url}  (Kafka commands: {settings.topic('commands')})")
    return {name: child.process for name, child in supervisor.children.items()}
