"""`credledger admin recognitions` lists agreements and `admin revoke-recognition`
revokes one as an agency, through the registry's own rules, on the ledger."""

from __future__ import annotations

import asyncio
import os
import sys

from shared.events import recognition as rec
from tests.support.ledger import ledger_head
from tests.support.world import EPOCH, World


async def admin(settings, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "credledger", "admin", *args, env={**os.environ, **settings.to_env()},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_list_and_revoke_an_agreement_from_the_command_line(settings, db):
    world = World(db, settings)
    await world.agency("qqi", "IE")
    await world.agency("mqa", "MY")
    await world.issuer("uni-ie", "qqi")
    await world._append("recognition:rec-1", rec.RecognitionAgreementDeclared(
        agreement_id="rec-1", recognising_kind="issuer", recognising_id="uni-ie", title="MQA level 6",
        match=rec.CredentialMatch(levels=["6"], accredited_by=["mqa"]), valid_from=EPOCH, credit_value=5.0))

    code, out, err = await admin(settings, "recognitions", "--status", "declared")
    assert code == 0, err
    assert "rec-1\tdeclared (in force)\tissuer uni-ie\tEQF 6\t5 credits\ton revocation: flag" in out

    before = await ledger_head(db)
    code, _, err = await admin(settings, "revoke-recognition", "--id", "rec-1", "--agency", "mqa", "--reason", "nope")
    assert code == 2 and "has not accredited" in err and await ledger_head(db) == before
    code, out, err = await admin(settings, "revoke-recognition", "--id", "rec-1", "--agency", "qqi",
                                 "--reason", "partner programme closed")
    assert code == 0 and "flagged for review" in out, err
    assert await db.fetchval("SELECT status FROM registry.recognition_agreements WHERE agreement_id = 'rec-1'") \
        == "revoked"
    actor = await db.fetchval("SELECT convert_from(metadata, 'UTF8') FROM ledger.events"
                              " WHERE stream_id = 'recognition:rec-1' AND version = 2")
    assert '"actor":"admin-cli:' in actor and '"tenant":"qqi"' in actor
