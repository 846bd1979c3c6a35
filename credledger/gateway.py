"""The API gateway: nginx in front of the four services.

The configuration lives as templates in deploy/gateway/. This module fills
in listen address, upstream addresses, body limits and rate limits from the
settings, then either runs nginx as a child process (`credledger up`, the
tests) or only writes the files for containers
(`python -m credledger.gateway render ...`). One renderer for every
deployment means the configuration the tests exercise is the one that runs.

Placeholders are `{{name}}` rather than string.Template's `$name` because
nginx's own variables are spelled `$name`; no envsubst is needed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from credledger.embedded import free_port, port_is_free, stop_process, wait_for_port
from shared.http.problem import PROBLEM_TYPE_BASE
from shared.settings import SERVICE_NAMES, Settings, load_settings

TEMPLATES_ENV = "CREDLEDGER_GATEWAY_TEMPLATES"
TLS_CERT_ENV = "CREDLEDGER_GATEWAY_TLS_CERT"
TLS_KEY_ENV = "CREDLEDGER_GATEWAY_TLS_KEY"
TLS_PORT_ENV = "CREDLEDGER_GATEWAY_TLS_PORT"
LIMITS_ENV_PREFIX = "CREDLEDGER_GATEWAY_"
MAIN_TEMPLATES = {False: "nginx.conf.template", True: "nginx.tls.conf.template"}
INCLUDES = ("http.conf", "routes.conf", "auth.conf", "auth_check.conf", "headers.conf", "problems.conf")
# Batch issuance: 16 MiB holds thousands of credential requests; bulk
# verification's larger limit comes from the settings.
BATCH_BODY_BYTES = 16 * 1024 * 1024
HSTS = 'add_header Strict-Transport-Security "max-age=63072000" always;'
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
DEFAULT_AUTH_PORT = 8079
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class Limits:
    """Rates in nginx's notation (`50r/s`, `600r/m`); a burst is how many
    requests above the rate are accepted at once before 429s start."""

    client_rate: str = "50r/s"
    client_burst: int = 100
    bulk_rate: str = "20r/s"
    bulk_burst: int = 200
    public_rate: str = "20r/s"
    public_burst: int = 100
    auth_cache_seconds: int = 5
    # Key checks that miss the verdict cache (new or invalid keys), per address.
    auth_lookup_rate: str = "5r/s"
    auth_lookup_burst: int = 50

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Limits:
        """CREDLEDGER_GATEWAY_CLIENT_RATE=200r/s and so on, for production tuning."""
        defaults = cls()
        changes: dict[str, object] = {}
        for item in fields(cls):
            raw = environ.get(LIMITS_ENV_PREFIX + item.name.upper())
            if raw is not None:
                changes[item.name] = type(getattr(defaults, item.name))(raw)
        return replace(defaults, **changes)


@dataclass(frozen=True)
class GatewayConfig:
    listen_host: str
    listen_port: int
    upstreams: Mapping[str, str]  # service name -> "host:port"
    body_limit: int
    bulk_body_limit: int
    batch_body_limit: int = BATCH_BODY_BYTES
    limits: Limits = field(default_factory=Limits)
    # The worker user when nginx starts as root; None when it does not.
    run_as: str | None = None
    worker_processes: str = "auto"
    worker_connections: int = 4096
    access_log: str = "logs/access.log"
    error_log: str = "logs/error.log"
    tls_port: int = 8443
    tls_cert: str = ""
    tls_key: str = ""
    # The loopback-only server that rate-limits key checks (http.conf).
    auth_port: int = DEFAULT_AUTH_PORT


def connect_host(host: str) -> str:
    """Where to connect to reach something listening on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0") else host


def config_from_settings(settings: Settings, *, service_hosts: bool = False, **changes: object) -> GatewayConfig:
    """`service_hosts`: each service is reached at its own name (docker
    compose, Kubernetes Services) instead of at the settings' host."""
    upstreams = {
        service: f"{service if service_hosts else connect_host(settings.host)}:{settings.port_of(service)}"
        for service in SERVICE_NAMES
    }
    return GatewayConfig(
        listen_host=settings.host, listen_port=settings.gateway_port, upstreams=upstreams,
        body_limit=settings.max_body_bytes, bulk_body_limit=settings.max_bulk_body_bytes,
        **changes,  # type: ignore[arg-type]
    )


def templates_dir() -> Path:
    override = os.environ.get(TEMPLATES_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "deploy" / "gateway"


def template_values(config: GatewayConfig, tls: bool) -> dict[str, str]:
    values = {
        "user_directive": f"user {config.run_as};" if config.run_as else "",
        "worker_processes": config.worker_processes,
        "worker_connections": str(config.worker_connections),
        "error_log": config.error_log,
        "access_log": config.access_log,
        "listen_host": config.listen_host,
        "listen_port": str(config.listen_port),
        "body_limit": str(config.body_limit),
        "bulk_body_limit": str(config.bulk_body_limit),
        "batch_body_limit": str(config.batch_body_limit),
        "problem_base": PROBLEM_TYPE_BASE,
        "hsts_directive": HSTS if tls else "",
        "tls_port": str(config.tls_port),
        "tls_port_suffix": "" if config.tls_port == 443 else f":{config.tls_port}",
        "tls_cert": config.tls_cert,
        "tls_key": config.tls_key,
        "auth_port": str(config.auth_port),
    }
    values.update({f"{service}_upstream": address for service, address in config.upstreams.items()})
    values.update({item.name: str(getattr(config.limits, item.name)) for item in fields(Limits)})
    return values


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every {{name}}; a placeholder without a value is an error, so
    a template and this module cannot silently drift apart."""
    missing = sorted(set(_PLACEHOLDER.findall(template)) - values.keys())
    if missing:
        raise KeyError(f"no value for gateway template placeholder(s): {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def render(config: GatewayConfig, conf_dir: Path, *, tls: bool = False, templates: Path | None = None) -> Path:
    """Write nginx.conf and its includes into `conf_dir`; return nginx.conf."""
    if tls and not (config.tls_cert and config.tls_key):
        raise ValueError(f"the TLS gateway needs {TLS_CERT_ENV} and {TLS_KEY_ENV}")
    templates = templates or templates_dir()
    values = template_values(config, tls)
    conf_dir.mkdir(parents=True, exist_ok=True)
    for name in INCLUDES:
        (conf_dir / name).write_text(fill((templates / f"{name}.template").read_text(), values))
    main = conf_dir / "nginx.conf"
    main.write_text(fill((templates / MAIN_TEMPLATES[tls]).read_text(), values))
    return main


def nginx_binary() -> str | None:
    # /usr/sbin is often missing from an unprivileged user's PATH.
    return shutil.which("nginx") or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)


def nginx_available() -> bool:
    return nginx_binary() is not None


def nginx_command(binary: str, prefix: Path, conf: Path) -> list[str]:
    # -e: nginx opens its compiled-in error log (/var/log/nginx/...) before
    # reading the config; pointing it under the prefix keeps it unprivileged.
    return [binary, "-p", f"{prefix}/", "-e", str(prefix / "logs" / "error.log"), "-c", str(conf)]


@dataclass
class EmbeddedGateway:
    """nginx on the settings' gateway port, with its config, logs, temp files
    and auth cache under `prefix`; a child in its own process group."""

    settings: Settings
    prefix: Path
    limits: Limits = field(default_factory=Limits)
    # With both: the production variant, HTTPS on tls_port (HTTP redirects).
    tls_cert: str = ""
    tls_key: str = ""
    tls_port: int = 8443
    process: subprocess.Popen | None = field(default=None, init=False)
    # Any free loopback port: tests run several gateways on one machine.
    auth_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://{connect_host(self.settings.host)}:{self.settings.gateway_port}"

    def config(self) -> GatewayConfig:
        # As root, nginx would switch its workers to "nobody", who cannot read
        # the prefix; it runs as whoever started it instead. One worker with
        # 512 connections stays within the usual limit of 1024 open files.
        return config_from_settings(
            self.settings, limits=self.limits, worker_processes="1", worker_connections=512,
            run_as="root" if os.geteuid() == 0 else None,
            tls_cert=self.tls_cert, tls_key=self.tls_key, tls_port=self.tls_port,
            auth_port=self.auth_port,
        )

    def start(self, timeout: float = 15.0) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
        port = self.settings.gateway_port
        if not port_is_free(port, connect_host(self.settings.host)):
            raise RuntimeError(f"the gateway port {port} is in use (set CREDLEDGER_GATEWAY_PORT)")
        prefix = self.prefix.resolve()
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        command = nginx_command(binary, prefix, render(self.config(), prefix / "conf", tls=bool(self.tls_cert)))
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected the gateway configuration:\n{check.stderr}")
        with open(prefix / "logs" / "nginx.log", "ab") as log:
            self.process = subprocess.Popen(
                [*command, "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for_port(port, self.process, timeout, "nginx")

    def stop(self) -> None:
        # SIGQUIT is nginx's graceful shutdown: in-flight requests finish.
        if self.process is not None:
            stop_process(self.process, signal.SIGQUIT, timeout=10.0)


def main(argv: list[str] | None = None) -> int:
    """`python -m credledger.gateway render --output DIR`: the files for a
    container that runs the stock nginx image."""
    parser = argparse.ArgumentParser(prog="python -m credledger.gateway", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_cmd = commands.add_parser("render", help="write nginx.conf and its includes from the environment")
    render_cmd.add_argument("--output", type=Path, required=True, help="folder for nginx.conf and its includes")
    render_cmd.add_argument("--service-hosts", action="store_true",
                            help="reach each service at its own name (compose, Kubernetes)")
    render_cmd.add_argument("--tls", action="store_true",
                            help=f"the production variant, with {TLS_CERT_ENV} and {TLS_KEY_ENV}")
    render_cmd.add_argument("--user", help="worker user when nginx starts as root (the nginx image: nginx)")
    render_cmd.add_argument("--stdio-logs", action="store_true", help="log to stdout/stderr (containers)")
    args = parser.parse_args(argv)
    config = config_from_settings(
        load_settings(), service_hosts=args.service_hosts, limits=Limits.from_env(os.environ),
        run_as=args.user, tls_cert=os.environ.get(TLS_CERT_ENV, ""), tls_key=os.environ.get(TLS_KEY_ENV, ""),
        tls_port=int(os.environ.get(TLS_PORT_ENV, "8443")),
    )
    if args.stdio_logs:
        config = replace(config, access_log="/dev/stdout", error_log="stderr")
    try:
        print(render(config, args.output, tls=args.tls))
    except ValueError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
