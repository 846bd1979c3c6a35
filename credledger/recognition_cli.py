"""`credledger admin recognitions` and `credledger admin revoke-recognition`:
the public list of recognition agreements, and an agency's revocation of
one, straight on the ledger database (the same code as the registry's
`GET /v1/recognition-agreements` and `POST .../revoke`)."""

from __future__ import annotations

import asyncio
import getpass
import sys

import asyncpg
import msgspec

from credledger.admin_cli import _shown_url
from services.registry import recognition, recognition_lookups
from services.registry.context import Caller, RegistryContext
from services.registry.listing import Filters, Slice
from services.registry.recognition_views import RevokeAgreement
from shared.auth import Principal
from shared.refusals import Refusal
from shared.settings import Settings

PAGE = 200


async def _list(settings: Settings, status: str | None, recogniser: str | None) -> list[str]:
    lines = []
    async with asyncpg.create_pool(settings.database_url, min_size=1, max_size=2) as pool:
        after: int | None = 0
        while after is not None:
            items, after = await recognition_lookups.agreements(
                pool, Filters(status=status, issuer_id=recogniser), Slice(after=after, limit=PAGE))
            for a in items:
                levels = f"{a.match.framework_id} {','.join(a.match.levels)}" if a.match.levels else ""
                what = a.match.achievement_id or levels
                lines.append(f"{a.agreement_id}\t{a.status}{' (in force)' if a.in_force else ''}\t"
                             f"{a.recognising_kind} {a.recognising_id}\t{what}\t{a.credit_value:g} credits\t"
                             f"on revocation: {a.on_revoked}")
    return lines


async def _revoke(settings: Settings, agreement_id: str, agency_id: str, reason: str) -> str:
    async with asyncpg.create_pool(settings.database_url, min_size=1, max_size=2) as pool:
        ctx = RegistryContext(pool, settings.public_base_url, settings.master_key)
        caller = Caller(Principal(f"admin-cli:{getpass.getuser()}", "agency_admin", agency_id))
        written = await recognition.revoke_agreement(ctx, caller, agreement_id, RevokeAgreement(reason=reason))
    return (f"revoked {written.agreement.agreement_id} at ledger position {written.positions[0]};"
            f" awards it admitted components of are {'flagged for review' if written.agreement.on_revoked == 'flag' else 'kept'}")


def _run(settings: Settings, work) -> int:  # type: ignore[no-untyped-def]
    try:
        result = asyncio.run(work)
    except (ValueError, msgspec.ValidationError, Refusal) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        print(f"error: cannot use the ledger database at {_shown_url(settings.database_url)} ({exc});"
              " set DATABASE_URL and run `credledger migrate` once", file=sys.stderr)
        return 2
    print("\n".join(result) if isinstance(result, list) else result)
    return 0


def list_command(settings: Settings, *, status: str | None, recogniser: str | None) -> int:
    return _run(settings, _list(settings, status, recogniser))


def revoke_command(settings: Settings, *, agreement_id: str, agency_id: str, reason: str) -> int:
    if len(reason.strip()) < 3:
        print("error: --reason must say why (at least 3 characters)", file=sys.stderr)
        return 2
    return _run(settings, _revoke(settings, agreement_id, agency_id, reason))
