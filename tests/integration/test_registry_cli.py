"""`credledger admin create-agency` bootstraps a root agency straight on the
ledger and prints a first admin key that works against the registry."""

from __future__ import annotations

import asyncio
import os
import sys

from shared.auth import Authenticator
from tests.support.ledger import ledger_head


async def run_cli(settings, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "credledger", "admin", "create-agency", *args,
        env={**os.environ, **settings.to_env()},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


def fields_of(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


async def test_create_agency_prints_a_working_admin_key(settings, db):
    code, out, err = await run_cli(settings, "--name", "Quality and Qualifications Ireland",
                                   "--jurisdiction", "IE", "--levels", "5-8", "--id", "qqi")
    assert code == 0, err
    printed = fields_of(out)
    assert printed["agency_id"] == "qqi" and printed["admin_api_key"].startswith("clk_")
    principal = await Authenticator(db).authenticate(f"Bearer {printed['admin_api_key']}")
    assert (principal.role, principal.tenant_id, principal.client_id) == ("agency_admin", "qqi", printed["admin_client_id"])
    agency = await db.fetchrow("SELECT * FROM registry.agencies WHERE agency_id = 'qqi'")
    assert agency["parent_agency_id"] is None and '"eqf_levels": [5, 6, 7, 8]' in agency["scope"]
    actor = await db.fetchval("SELECT convert_from(metadata, 'UTF8') FROM ledger.events WHERE stream_id = 'agency:qqi'")
    assert '"actor":"admin-cli:' in actor and '"tenant":"platform"' in actor


async def test_create_agency_refuses_bad_input_and_writes_nothing(settings, db):
    assert (await run_cli(settings, "--name", "QQI", "--jurisdiction", "IE", "--id", "qqi"))[0] == 0
    before = await ledger_head(db)
    for args, says in [
        (["--name", "Second", "--jurisdiction", "IE"], "already has a root agency"),
        (["--name", "X", "--jurisdiction", "FR", "--levels", "0-9"], "EQF levels are 1 to 8"),
        (["--name", "X", "--jurisdiction", "FR", "--levels", "high"], "--levels takes"),
        (["--name", "X", "--jurisdiction", "France"], "jurisdiction"),
        (["--name", "X", "--jurisdiction", "FR", "--id", "qqi"], "already exists"),
    ]:
        code, _, err = await run_cli(settings, *args)
        assert code == 2 and says in err, (args, err)
    assert await ledger_head(db) == before
