"""The command line meets careless and hostile files (issue 13): it reads
them row by row, says what is wrong in one line with a non-zero exit and
never shows a traceback, and its results files are safe to open in a
spreadsheet. Every CLI here runs as a real subprocess."""

from __future__ import annotations

import asyncio
import csv
import functools
import json
import os
import sys
import uuid

from services.issuance.app import create_app as issuance_app
from services.verification.app import create_app
from services.verification.projection import ReadModelOptions
from shared.events import credentials as cev
from tests.support.credentials_for_verification import build_scene, change_status, issue, serving_ready
from tests.support.http import serving
from tests.support.issuance import registry_caught_up, university
from tests.support.ledger import ledger_head
from tests.support.processes import ROOT

verification_app = functools.partial(create_app, options=ReadModelOptions(idle_check_interval=0.2))
# The child reports its own peak memory, so the figure is the CLI's alone:
# VmHWM belongs to the process's own address space, where ru_maxrss carries
# the forking parent's (the test runner's) peak across exec on Linux.
MEASURED = ("import re, sys; from credledger.cli import main; code = main(sys.argv[1:]); "
            "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]; "
            "print('maxrss_kb', peak, file=sys.stderr); sys.exit(code)")


async def credledger(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MEASURED, *args, cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert b"Traceback" not in err, err.decode()
    return process.returncode, out.decode(), err.decode()


def issue_args(source, achievement_id="ach-1", key="clk_x", url="http://127.0.0.1:9"):
    return ["issue", "--csv", str(source), "--achievement", achievement_id, "--api-key", key, "--url", url]


def peak_kb(err: str) -> int:
    return int(err.rsplit("maxrss_kb ", 1)[1].split()[0])


async def test_issue_refuses_unreadable_files_with_one_line_each(tmp_path):
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes(b"reference,email\nSIS-1,ada@example.org\nSIS-2,jos\xe9@example.org\n")
    code, _, err = await credledger(*issue_args(not_utf8))
    assert code == 2 and "line 3: not valid UTF-8" in err

    huge_cell = tmp_path / "huge.csv"
    huge_cell.write_text("reference,email,grade\nSIS-1,ada@example.org,\"" + "x" * 131_073 + "\"\n")
    code, _, err = await credledger(*issue_args(huge_cell))
    assert code == 2 and "a cell is longer than 131,072 characters" in err

    code, _, err = await credledger(*issue_args(tmp_path / "missing.csv"))
    assert code == 2 and "No such file" in err


async def test_issue_reads_a_large_file_row_by_row(tmp_path):
    source = tmp_path / "large.csv"
    row = "SIS-{0:08d},learner{0:08d}@example.org," + "x" * 60 + "\n"
    with open(source, "w") as handle:
        handle.write("reference,email,grade\n")
        handle.writelines(row.format(n) for n in range(300_000))
        handle.write(",last@example.org,\n")  # found only at the very end
    assert source.stat().st_size > 30_000_000
    code, _, err = await credledger(*issue_args(source))
    assert code == 2 and "rows without a reference (lines 300002)" in err
    # Read whole, the file alone would take several times its 30 MB here.
    assert peak_kb(err) < 100_000, err


async def test_create_agency_without_a_database_says_what_to_set(postgres_admin_url):
    missing = postgres_admin_url.rsplit("/", 1)[0] + f"/credledger_missing_{uuid.uuid4().hex[:8]}"
    for url in (missing, "postgresql://postgres:secret@127.0.0.1:9/credledger"):
        code, _, err = await credledger("admin", "create-agency", "--name", "Agency", "--jurisdiction", "IE",
                                        env={"DATABASE_URL": url})
        assert code == 2 and "Set DATABASE_URL" in err and "secret" not in err


async def test_issue_results_are_defused_and_counts_say_what_happened(settings, db, tmp_path):
    world, issuer, achievement_id = await university(db, settings)
    source, out = tmp_path / "term.csv", tmp_path / "term.csv.results.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "email"])
        writer.writerows([['=HYPERLINK("http://evil.example","x")', "ada@example.org"],
                          ["+SIS-2", "bob@example.org"], ["@SIS-3", "not-an-email"]])
    async with serving(issuance_app, settings) as client:
        await registry_caught_up(client, db)
        args = issue_args(source, achievement_id, issuer.api_key, str(client.make_url("")))
        head = await ledger_head(db)
        code, stdout, _ = await credledger(*args)
        assert code == 1 and "3 rows: 2 issued, 0 already issued, 1 rejected, 0 skipped" in stdout
        with open(out, newline="") as handle:
            written = list(csv.DictReader(handle))
        assert [r["reference"] for r in written] == ['\'=HYPERLINK("http://evil.example","x")', "'+SIS-2", "'@SIS-3"]

        # A re-run reads its own defused file back: the two issued rows are skipped, not re-sent.
        code, stdout, _ = await credledger(*args)
        assert "0 issued, 0 already issued, 1 rejected, 2 skipped" in stdout
        out.unlink()
        code, stdout, _ = await credledger(*args)
        assert "0 issued, 2 already issued, 1 rejected, 0 skipped" in stdout
        assert await ledger_head(db) == head + 2


async def test_verify_classifies_documents_and_writes_a_safe_complete_results_file(db, settings, tmp_path):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    revoked = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="bob@example.org")
    await change_status(scene.ledger, scene.issuer, revoked.credential_id, cev.CredentialRevoked)
    tampered = {**ada.document, "name": "Doctorate in Everything"}
    subject = {**ada.document["credentialSubject"],
               "achievement": {"id": "https://elsewhere.example/achievements/none", "name": "\r=1+2"}}
    foreign = {**ada.document, "id": "urn:uuid:8f2c2a1e-0000-4000-8000-000000000000", "credentialSubject": subject}
    source, out = tmp_path / "pool.csv", tmp_path / "results.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["credential", "email"])
        writer.writerows([[json.dumps(ada.document), "ada@example.org"], [json.dumps(tampered), "ada@example.org"],
                          [revoked.credential_id, "bob@example.org"], ['=HYPERLINK("http://evil.example")', ""],
                          ["12345", "=1+1"], [json.dumps(foreign), ""]])
    async with serving_ready(verification_app, settings) as client:
        code, stdout, _ = await credledger("verify", "--csv", str(source), "--url", str(client.make_url("")),
                                           "--api-key", scene.employer_key, "--out", str(out))
    assert code == 0 and "6 checked: 1 valid, 3 invalid, 2 unknown" in stdout
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["verdict"] for r in rows] == ["valid", "invalid", "invalid", "unknown", "unknown", "invalid"]
    assert rows[1]["failed_checks"].startswith("integrity:differs_from_ledger")  # a document, not an id
    assert "differs from the one the issuer issued" in rows[1]["explanation"]
    # The employer sees the reason's category, never the issuer's free text.
    assert rows[2]["revocation_reason"].startswith("revoked by the issuer on ")
    assert rows[2]["revocation_reason"].endswith("reason: issued in error")
    assert "wrong learner" not in out.read_text()
    assert [r["email"] for r in rows] == ["ada@example.org", "ada@example.org", "bob@example.org", "", "'=1+1", ""]
    assert rows[5]["title"] == "'\r=1+2"  # a CR-prefixed cell, defused
    assert rows[0]["explanation"].startswith("Valid")
    assert "not a credential id" in rows[3]["problem"] and rows[3]["problem"].startswith("'")
    assert "not a credential id" in rows[4]["problem"]
