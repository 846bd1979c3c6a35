"""The employer portal and the badge page in a real browser (headless
chromium): an employer signs in, uploads 1,000 candidates (valid, revoked,
suspended, tampered, unknown and unreadable rows), watches the job finish,
sees the right counts, filters, downloads the results; the badge page of a
stacked award shows its components and a component the award it counts
toward. Every page passes axe-core with no serious or critical finding and
raises no CSP violation (the context fixture fails the test on one)."""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
import uuid
from pathlib import Path

from shared.events import credentials as cev
from tests.browser.conftest import SCREENSHOTS, axe_check, screenshot
from tests.support.credentials_for_verification import build_scene, change_status, issue
from tests.support.employer import portal, verification_for_portal

VALID, REVOKED, SUSPENDED, TAMPERED, UNKNOWN, UNREADABLE = 650, 100, 100, 50, 50, 50


def _tampered(jwt: str) -> str:
    """The JWT with its credential's title changed and its signature kept."""
    header, payload, signature = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["achievement"]["name"] = "Doctorate in Everything"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, forged, signature])


async def _candidates(scene, tmp_path: Path) -> Path:
    valid = [await issue(scene.ledger, scene.issuer, scene.achievement_id, email=f"valid{n}@example.org")
             for n in range(20)]
    revoked = [await issue(scene.ledger, scene.issuer, scene.achievement_id, email=f"revoked{n}@example.org")
               for n in range(2)]
    suspended = [await issue(scene.ledger, scene.issuer, scene.achievement_id, email=f"suspended{n}@example.org")
                 for n in range(2)]
    for credential in revoked:
        await change_status(scene.ledger, scene.issuer, credential.credential_id, cev.CredentialRevoked)
    for credential in suspended:
        await change_status(scene.ledger, scene.issuer, credential.credential_id, cev.CredentialSuspended)
    rows = [["name", "email", "credential"]]
    for n in range(VALID):
        c = valid[n % len(valid)]
        rows.append([f"Valid Candidate {n}", f"valid{n % len(valid)}@example.org",
                     f"https://ledger.example/verify/{c.credential_id}"])
    for kind, pool, count in (("revoked", revoked, REVOKED), ("suspended", suspended, SUSPENDED)):
        for n in range(count):
            rows.append([f"{kind.title()} Candidate {n}", f"{kind}{n % 2}@example.org", pool[n % 2].credential_id])
    for n in range(TAMPERED):
        rows.append([f"Tampered Candidate {n}", f"valid{n % 20}@example.org", _tampered(valid[n % 20].jwt(scene.issuer))])
    for n in range(UNKNOWN):
        rows.append([f"Unknown Candidate {n}", f"unknown{n}@example.org", f"urn:uuid:{uuid.uuid4()}"])
    for n in range(UNREADABLE):
        rows.append([f"=SUM(A{n}:B{n})", f"x{n}@example.org", f"not a credential {secrets.token_hex(4)}"])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path = tmp_path / "candidates.csv"
    path.write_text(buffer.getvalue())
    return path


async def test_an_employer_checks_a_thousand_candidates_in_a_browser(context, db, settings, tmp_path):
    scene = await build_scene(db, settings)
    candidates = await _candidates(scene, tmp_path)
    async with verification_for_portal(settings) as stack, portal(stack.settings) as client:
        base = str(client.make_url("")).rstrip("/")
        page = await context.new_page()
        await page.goto(f"{base}/employer")
        await page.get_by_role("heading", name="Sign in to the Employer portal").wait_for()
        await axe_check(page)
        await screenshot(page, "employer-sign-in")
        await page.get_by_label("Your email address").fill("hr@acme.example")
        await page.get_by_label("Employer API key").fill(scene.employer_key)
        await page.get_by_role("button", name="Sign in with the API key").click()
        await page.get_by_role("heading", name="Check candidates' credentials").wait_for()
        await axe_check(page)

        await page.get_by_label("CSV file").set_input_files(str(candidates))
        await page.get_by_role("button", name="Upload and check").click()
        await page.get_by_role("heading", name="candidates.csv").wait_for()
        await axe_check(page)
        # live.js polls the progress and reloads the page once the job is done.
        await page.get_by_role("link", name="Download the results (CSV)").wait_for(timeout=60_000)
        counts = {v: await page.locator(f"#count-{v}").inner_text() for v in ("valid", "invalid", "unknown")}
        assert counts == {"valid": str(VALID), "invalid": str(REVOKED + SUSPENDED + TAMPERED + UNKNOWN),
                          "unknown": str(UNREADABLE)}
        await axe_check(page)
        await screenshot(page, "employer-results")
        await page.screenshot(path=str(SCREENSHOTS / "employer-results-top.png"))  # the view, for the README

        await page.get_by_role("link", name="Not valid (").click()
        await page.get_by_role("heading", name="Results: Not valid").wait_for()
        first = page.locator("tbody tr").first
        assert "Revoked by the issuer" in await first.inner_text()
        await axe_check(page)

        await page.get_by_role("link", name="All (").click()
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Download the results (CSV)").click()
        download = await info.value
        rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text())))
        assert len(rows) == 1000
        verdicts = [r["verdict"] for r in rows]
        assert verdicts.count("Valid") == VALID and verdicts.count("Cannot check") == UNREADABLE
        assert all(r["identity_match"] == "Matches the candidate's email" for r in rows[:VALID])
        assert rows[VALID]["reasons"].startswith("Revoked by the issuer")
        assert rows[VALID + REVOKED]["reasons"].startswith("Suspended by the issuer")
        tampered = rows[VALID + REVOKED + SUSPENDED]
        assert tampered["verdict"] == "Not valid" and "altered" in tampered["reasons"]
        unknown = rows[VALID + REVOKED + SUSPENDED + TAMPERED]
        assert "No credential with this id" in unknown["reasons"]
        assert rows[-1]["name"].startswith("'=SUM(")  # defused for spreadsheets

        await page.goto(f"{base}/employer/")
        assert "candidates.csv" in await page.locator("table").inner_text()
        await screenshot(page, "employer-home")
        await page.goto(f"{base}/employer/colleagues")
        await page.get_by_label("Their work email address").fill("colleague@acme.example")
        await page.get_by_role("button", name="Send an invitation").click()
        await page.get_by_text("Invitation sent to colleague@acme.example").wait_for()
        await axe_check(page)


async def test_the_badge_page_of_a_stacked_award_shows_its_components(context, db, settings):
    scene = await build_scene(db, settings)
    first = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    second = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    award = await issue(scene.ledger, scene.issuer, scene.achievement_id,
                        components=[first.credential_id, second.credential_id])
    async with verification_for_portal(settings) as stack:
        base = str(stack.verification.make_url("")).rstrip("/")
        page = await context.new_page()
        await page.goto(f"{base}/verify/{award.credential_id}")
        await page.get_by_role("heading", name="Built from").wait_for()
        links = page.locator("ul.related a")
        assert await links.count() == 2
        hrefs = {await links.nth(i).get_attribute("href") for i in range(2)}
        assert hrefs == {f"/verify/{first.credential_id}".replace(":", "%3A"),
                         f"/verify/{second.credential_id}".replace(":", "%3A")} or \
            hrefs == {f"/verify/{first.credential_id}", f"/verify/{second.credential_id}"}
        checks = await page.locator("ol.checks").inner_text()
        for words in ("Signed by the issuer's key", "Issuer accredited at the time of issue",
                      "Signing key valid", "Current status", "Included in the signed public log"):
            assert words in checks
        assert await page.locator('meta[property="og:image"]').get_attribute("content")
        badge = await page.evaluate("() => document.querySelector('img.badge-image').naturalWidth")
        assert badge > 0
        assert "1EdTech" in await page.locator("#yourself ~ ul").first.inner_text()
        await axe_check(page)
        await screenshot(page, "badge-page-stacked-award")
        await links.first.click()
        await page.get_by_role("heading", name="Counts toward").wait_for()
        await axe_check(page)
        phone = await context.new_page()
        await phone.set_viewport_size({"width": 375, "height": 740})
        await phone.goto(f"{base}/verify/{award.credential_id}")
        assert await phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(phone, "badge-page-phone")
