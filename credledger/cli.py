"""The `credledger` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from pathlib import Path

from shared.settings import SERVICE_NAMES, load_settings


def _up(args: argparse.Namespace) -> int:
    from credledger.stack import up

    return up(Path(args.home), demo=args.demo)


def _migrate(args: argparse.Namespace) -> int:
    from credledger.stack import migrate

    applied = asyncio.run(migrate(load_settings()))
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


def _intake(args: argparse.Namespace) -> int:
    from services.intake.app import create_app
    from shared.service import serve

    serve("intake", create_app)
    return 0


def _push(args: argparse.Namespace) -> int:
    from credledger.push_cli import push_command

    return push_command(args)


def _audit_verify(args: argparse.Namespace) -> int:
    from credledger.audit_cli import audit_verify

    return audit_verify(load_settings(), args.from_position, args.workers, args.log_keys)


def _verify(args: argparse.Namespace) -> int:
    from credledger.verify_cli import verify_csv

    api_key = args.api_key or os.environ.get("CREDLEDGER_API_KEY", "")
    return verify_csv(args.url or load_settings().url_of("verification"), api_key, args.csv, args.out)


def _admin_create_agency(args: argparse.Namespace) -> int:
    from credledger.admin_cli import create_agency_command

    return create_agency_command(load_settings(), name=args.name, jurisdiction=args.jurisdiction,
                                 levels=args.levels, fields=args.fields, agency_id=args.id)


def _admin_recognitions(args: argparse.Namespace) -> int:
    from credledger.recognition_cli import list_command

    return list_command(load_settings(), status=args.status, recogniser=args.recogniser)


def _admin_revoke_recognition(args: argparse.Namespace) -> int:
    from credledger.recognition_cli import revoke_command

    return revoke_command(load_settings(), agreement_id=args.id, agency_id=args.agency, reason=args.reason)


def _issue(args: argparse.Namespace) -> int:
    from credledger.issue_cli import issue_command

    api_key = args.api_key or os.environ.get("CREDLEDGER_API_KEY", "")
    return issue_command(args.url or load_settings().url_of("issuance"), api_key, args.csv, args.achievement,
                         args.out, args.batch_size)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credledger", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole system locally (embedded Postgres and broker)")
    up.add_argument("--home", default=".credledger", help="state folder (default: ./.credledger)")
    up.add_argument("--demo", action="store_true",
                    help="seed a demo agency, university, credentials and employer; write demo.json")
    up.set_defaults(func=_up)

    migrate = commands.add_parser("migrate", help="apply migrations as the owner (CREDLEDGER_MIGRATION_DATABASE_URL, else DATABASE_URL)")
    migrate.set_defaults(func=_migrate)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.set_defaults(func=_serve)

    relay = commands.add_parser("relay", help="publish the ledger to Kafka (one active at a time)")
    relay.set_defaults(func=_relay)

    intake = commands.add_parser("intake", help="run Kafka commands from issuers (signed; outcomes on a reply topic)")
    intake.set_defaults(func=_intake)

    audit = commands.add_parser("audit", help="check the ledger's integrity")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="recompute the hash chain and check the signed checkpoints; non-zero exit on a break")
    verify.add_argument("--from", dest="from_position", type=int, default=1, metavar="POS",
                        help="start here (checkpoints are checked only from 1)")
    verify.add_argument("--log-key", dest="log_keys", action="append", default=[], metavar="VKEY",
                        help="a C2SP vkey checkpoints may be signed by (repeatable; default: the key of"
                             " CREDLEDGER_LOG_SIGNING_KEY, else the keys stored in the ledger)")
    verify.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    verify.set_defaults(func=_audit_verify)
    verify_pool = commands.add_parser("verify", help="verify an applicant pool from a CSV file (a bulk job)")
    verify_pool.add_argument("--csv", required=True, metavar="FILE",
                             help="one credential per row: id or JWT, optionally email or national_id")
    verify_pool.add_argument("--url", default="", help="verification service (default: from settings)")
    verify_pool.add_argument("--api-key", default="", help="employer API key (default: $CREDLEDGER_API_KEY)")
    verify_pool.add_argument("--out", default="results.csv", help="where to write the answers (CSV)")
    verify_pool.set_defaults(func=_verify)
    admin = commands.add_parser("admin", help="registry administration straight on the ledger")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create_agency = admin_commands.add_parser(
        "create-agency", help="create a root agency; prints its id and first admin API key (shown once)")
    create_agency.add_argument("--name", required=True, help="the agency's name")
    create_agency.add_argument("--jurisdiction", required=True, help="ISO 3166-1 alpha-2 (or 3166-2), e.g. IE")
    create_agency.add_argument("--levels", default="1-8", help="EQF levels it may accredit: 1-8, 5,6,7 (default 1-8)")
    create_agency.add_argument("--fields", default="*", help="ISCED-F field codes, comma-separated (default: *)")
    create_agency.add_argument("--id", default=None, help="agency id (default: generated)")
    create_agency.set_defaults(func=_admin_create_agency)
    recognitions = admin_commands.add_parser("recognitions", help="list recognition agreements (public data)")
    recognitions.add_argument("--status", choices=("declared", "revoked"), default=None)
    recognitions.add_argument("--recogniser", default=None, help="only those of this issuer or agency")
    recognitions.set_defaults(func=_admin_recognitions)
    revoke_recognition = admin_commands.add_parser(
        "revoke-recognition", help="revoke a recognition agreement as an agency; its on_revoked policy applies")
    revoke_recognition.add_argument("--id", required=True, help="the agreement id")
    revoke_recognition.add_argument("--agency", required=True, help="the revoking agency's id")
    revoke_recognition.add_argument("--reason", required=True, help="why, for the audit log")
    revoke_recognition.set_defaults(func=_admin_revoke_recognition)
    issue = commands.add_parser("issue", help="issue credentials from a registrar's CSV (resumable)")
    issue.add_argument("--csv", required=True, metavar="FILE",
                       help="columns: reference, email or national_id, issued_on, valid_until, grade, evidence_url,"
                            " evidence_narrative, evidence_genre")
    issue.add_argument("--achievement", required=True, metavar="ID", help="the approved achievement to issue")
    issue.add_argument("--url", default="", help="issuance service (default: from settings)")
    issue.add_argument("--api-key", default="", help="issuer API key (default: $CREDLEDGER_API_KEY)")
    issue.add_argument("--out", default=None, help="results file (default: FILE.results.csv)")
    issue.add_argument("--batch-size", type=int, default=1000, help="rows per request (at most 10000)")
    issue.set_defaults(func=_issue)
    _add_push(commands, issue)
    return parser


def _add_push(commands: argparse._SubParsersAction, issue: argparse.ArgumentParser) -> None:
    """`credledger push`: the options of `issue`, plus the broker and the issuer's command key."""
    push = commands.add_parser("push", parents=[issue], add_help=False,
                               help="issue from a registrar's CSV as signed Kafka commands (resumable)")
    push.add_argument("--bootstrap", default="", help="Kafka bootstrap servers (default: from settings)")
    push.add_argument("--signing-key", default="", metavar="FILE",
                      help="base64 Ed25519 seed of an issuer_held key (default: $CREDLEDGER_SIGNING_KEY)")
    push.add_argument("--key-id", required=True, help="that key's id in the registry")
    push.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for outcomes to stop arriving")
    push.set_defaults(func=_push)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("credledger: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a person reads this: one line, never a traceback
        if os.environ.get("CREDLEDGER_DEBUG"):
            raise
        print(f"credledger {args.command}: {type(exc).__name__}: {exc}"
              " (set CREDLEDGER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
