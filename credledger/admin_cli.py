"""`credledger admin create-agency`: bootstrap a root agency from the shell.

It writes the same events, through the same code, as `POST /v1/agencies`
with the platform key (the agency, its first admin client and key), straight
into the ledger at DATABASE_URL, and prints the agency id and the admin API
key. The key is shown this once; only its SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

from services.registry.agencies import create_agency
from services.registry.context import Caller, RegistryContext
from services.registry.schemas import CreateAgency
from shared.auth import BOOTSTRAP_TENANT, Principal
from shared.refusals import Refusal
from shared.settings import Settings


def parse_levels(text: str) -> list[int]:
    """'1-8' or '5,6,7' (or a mix: '1-3,6') into a sorted list of levels."""
    levels: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            raise ValueError(f"--levels takes ranges and lists like 1-8 or 5,6,7, not {text!r}")
        first, last = int(low), int(high or low)
        # Checked before the range is built: "1-99999999" must not become a list.
        if not 1 <= first <= last <= 8:
            raise ValueError(f"EQF levels are 1 to 8; {part.strip()!r} is not a range of levels")
        levels.update(range(first, last + 1))
    return sorted(levels)


def _request(name: str, jurisdiction: str, levels: str, fields: str, agency_id: str | None) -> CreateAgency:
    raw = {
        "name": name, "jurisdiction": jurisdiction, "agency_id": agency_id,
        "scope": {"eqf_levels": parse_levels(levels), "fields": [f.strip() for f in fields.split(",")]},
    }
    return msgspec.convert(raw, CreateAgency)


async def _create(settings: Settings, request: CreateAgency) -> str:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        ctx = RegistryContext(pool, settings.public_base_url, settings.master_key)
        caller = Caller(Principal(f"admin-cli:{getpass.getuser()}", "agency_admin", BOOTSTRAP_TENANT))
        created = await create_agency(ctx, caller, request)
    finally:
        await pool.close()
    return "\n".join([
        f"agency_id: {created.agency.agency_id}",
        f"jurisdiction: {created.agency.jurisdiction}",
        f"admin_client_id: {created.admin_client_id}",
        f"admin_api_key: {created.admin_api_key}",
        f"ledger_positions: {created.positions[0]}-{created.positions[-1]}",
        "(the admin API key is shown only now; store it in a secret manager)",
    ])


def create_agency_command(
    settings: Settings, *, name: str, jurisdiction: str, levels: str, fields: str, agency_id: str | None
) -> int:
    try:
        request = _request(name, jurisdiction, levels, fields, agency_id)
        print(asyncio.run(_create(settings, request)))
    except (ValueError, msgspec.ValidationError, Refusal) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except asyncpg.UndefinedTableError:
        print("error: the registry tables do not exist; run `credledger migrate` first", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        print(f"error: cannot use the ledger database at {_shown_url(settings.database_url)} ({exc}).\n"
              "Set DATABASE_URL to the ledger's Postgres (e.g. postgresql://user@host:5432/credledger)"
              " and run `credledger migrate` once to create its tables.", file=sys.stderr)
        return 2
    return 0


def _shown_url(url: str) -> str:
    """The URL without its password (it may be printed on a shared terminal)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
