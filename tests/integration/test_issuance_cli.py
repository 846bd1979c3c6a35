"""`credledger issue --csv`: a registrar's file through the batch endpoint,
with a results file, and re-runs that never issue a row twice."""

from __future__ import annotations

import asyncio
import csv

from credledger.cli import main
from services.issuance.app import create_app
from tests.support.http import serving
from tests.support.issuance import registry_caught_up, university
from tests.support.ledger import ledger_head

HEADER = "reference,email,national_id,issued_on,valid_until,grade,evidence_url,evidence_narrative\n"


def results(path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["reference"]: row for row in csv.DictReader(handle)}


async def test_a_csv_is_issued_and_a_rerun_skips_what_was_done(settings, db, tmp_path):
    world, issuer, achievement_id = await university(db, settings)
    source = tmp_path / "term.csv"
    rows = [f"SIS-{i},learner{i}@example.org,,2026-06-30,,B,,\n" for i in range(7)]
    rows.append("SIS-ID,,1234567TA,2026-06-30,2030-06-30,A,https://uni-1.example/e/1,Placement at Acme\n")
    rows.append("SIS-BAD,not-an-email,,2026-06-30,,,,\n")
    source.write_text(HEADER + "".join(rows))
    out = tmp_path / "term.csv.results.csv"
    args = ["issue", "--csv", str(source), "--achievement", achievement_id, "--api-key", issuer.api_key,
            "--batch-size", "4"]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        args += ["--url", str(client.make_url(""))]
        head = await ledger_head(db)

        assert await asyncio.to_thread(main, args) == 1  # one row was rejected
        first = results(out)
        assert [first[f"SIS-{i}"]["outcome"] for i in range(7)] == ["issued"] * 7
        assert first["SIS-ID"]["outcome"] == "issued" and first["SIS-ID"]["holder_token"]
        assert first["SIS-BAD"]["outcome"] == "rejected" and "not an email" in first["SIS-BAD"]["error"]
        assert await ledger_head(db) == head + 8

        # Fix the bad row and run again: only that row is sent and issued.
        source.write_text(HEADER + "".join(rows[:-1]) + "SIS-BAD,fixed@example.org,,2026-06-30,,,,\n")
        assert await asyncio.to_thread(main, args) == 0
        second = results(out)
        assert second["SIS-BAD"]["outcome"] == "issued" and await ledger_head(db) == head + 9
        assert all(second[ref] == first[ref] for ref in first if ref != "SIS-BAD")

        # A results file lost in a crash: everything is sent again, nothing issued twice.
        out.unlink()
        assert await asyncio.to_thread(main, args) == 0
        third = results(out)
        assert {ref: row["outcome"] for ref, row in third.items()} == dict.fromkeys(second, "existing")
        assert all(third[ref]["credential_id"] == second[ref]["credential_id"] for ref in second)
        assert await ledger_head(db) == head + 9


async def test_a_file_without_references_is_refused_before_anything_is_sent(settings, db, tmp_path, capsys):
    world, issuer, achievement_id = await university(db, settings)
    source = tmp_path / "bad.csv"
    source.write_text("email\nada@example.org\n")
    head = await ledger_head(db)
    code = main(["issue", "--csv", str(source), "--achievement", achievement_id, "--api-key", issuer.api_key,
                 "--url", "http://127.0.0.1:9"])
    assert code == 2 and "reference" in capsys.readouterr().err
    assert await ledger_head(db) == head
