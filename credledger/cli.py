"""The `credledger` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path

from shared.settings import SERVICE_NAMES, load_settings


def _up(args: argparse.Namespace) -> int:
    from credledger.stack import up

    return up(Path(args.home))


def _migrate(args: argparse.Namespace) -> int:
    from credledger.stack import migrate

    applied = asyncio.run(migrate(load_settings().database_url))
    print(f"applied {applied} migration(s)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from shared.service import serve

    app_module = importlib.import_module(f"services.{args.service}.app")
    serve(args.service, app_module.create_app)
    return 0


def _relay(args: argparse.Namespace) -> int:
    from credledger.relay_process import run_relay

    run_relay()
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from credledger.audit_cli import audit_verify

    return audit_verify(load_settings().database_url, args.from_position)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credledger", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole system locally (embedded Postgres and broker)")
    up.add_argument("--home", default=".credledger", help="state folder (default: ./.credledger)")
    up.set_defaults(func=_up)

    migrate = commands.add_parser("migrate", help="apply migrations to DATABASE_URL")
    migrate.set_defaults(func=_migrate)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.set_defaults(func=_serve)

    relay = commands.add_parser("relay", help="publish the ledger to Kafka (one active at a time)")
    relay.set_defaults(func=_relay)

    audit = commands.add_parser("audit", help="check the ledger's integrity")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="recompute the hash chain; non-zero exit on a break")
    verify.add_argument("--from", dest="from_position", type=int, default=1, metavar="POS")
    verify.set_defaults(func=_audit_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
