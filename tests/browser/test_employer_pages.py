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

from services.verification.sharing import token_hash
from shared.credential_format import new_credential_id
from shared.events import credentials as cev
from shared.events import sharing as sev
from shared.events.sharing import sharing_stream
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NewEvent
from tests.browser.conftest import SCREENSHOTS, axe_check, screenshot
from tests.support.credentials_for_verification import (
    ISSUED_AT,
    build_document,
    build_scene,
    change_status,
    issue,
    issued_event,
    sign,
)
from tests.support.employer import portal, verification_for_portal
from tests.support.waiting import eventually, running_relay

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
        forged = _tampered(valid[n % 20].jwt(scene.issuer))
        rows.append([f"Tampered Candidate {n}", f"valid{n % 20}@example.org", forged])
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
        await page.goto(f"{base}/verify/")
        await axe_check(page)
        link = f"https://ledger.example/verify/{award.credential_id}"
        await page.get_by_label("Credential id or badge link").fill(link)
        await page.get_by_role("button", name="Show the credential").click()
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
        status_list = await page.locator("ol.checks").get_by_role("link", name="status list").get_attribute("href")
        assert "/status-lists/" in status_list
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


async def _with_grade_and_evidence(scene) -> str:
    """A credential whose document carries a grade and an evidence item."""
    credential_id = new_credential_id()
    document = build_document(scene.issuer, scene.achievement_id, email="ada@example.org",
                              salt=secrets.token_hex(16), credential_id=credential_id)
    document["credentialSubject"]["result"] = [{"type": ["Result"], "value": "First class honours"}]
    document["evidence"] = [{"id": "https://portfolio.example/ada/project", "type": ["Evidence"],
                             "name": "Capstone project", "narrative": "A data pipeline for a hospital"}]
    signed = sign(scene.issuer, document)
    await scene.ledger.append([NewEvent(cev.credential_stream(credential_id),
                                        issued_event(scene.issuer, scene.achievement_id, signed))],
                              Metadata(actor="test", tenant=scene.issuer.issuer_id))
    return credential_id


async def _sharing(scene, credential_id: str, *events) -> None:
    await scene.ledger.append([NewEvent(sharing_stream(credential_id), e) for e in events],
                              Metadata(actor="wallet", tenant="platform"))


async def test_a_share_link_opens_a_private_credential_with_its_grade_and_evidence(context, db, settings):
    scene = await build_scene(db, settings)
    credential_id = await _with_grade_and_evidence(scene)
    token = secrets.token_urlsafe(32)
    await _sharing(scene, credential_id,
                   sev.CredentialVisibilitySet(credential_id=credential_id, private=True, at=ISSUED_AT),
                   sev.ShareLinkCreated(credential_id=credential_id, share_id="share-1", token_hash=token_hash(token),
                                        created_at=ISSUED_AT, expires_at="2099-01-01T00:00:00Z"))
    async with running_relay(settings), verification_for_portal(settings) as stack:
        base = str(stack.verification.make_url("")).rstrip("/")

        async def projected():
            return True if (await stack.verification.get(f"/verify/{credential_id}/s/{token}")).status == 200 \
                else None

        await eventually(projected, timeout=30)
        page = await context.new_page()
        public = await page.goto(f"{base}/verify/{credential_id}")
        assert public.status == 404 and "Data Analysis" not in await page.content()
        assert (await stack.verification.get(f"/verify/{credential_id}/badge.png")).status == 404
        # Its public JSON answer is that of an id never issued, but for the id.
        hidden = await (await stack.verification.get(f"/v1/credentials/{credential_id}/verification")).json()
        unknown_id = new_credential_id()
        unknown = await (await stack.verification.get(f"/v1/credentials/{unknown_id}/verification")).json()
        assert hidden == {**unknown, "id": credential_id} and hidden["verdict"] == "invalid"
        shared = await page.goto(f"{base}/verify/{credential_id}/s/{token}")
        assert shared.status == 200
        facts = await page.locator("dl.facts").inner_text()
        assert "First class honours" in facts
        evidence = page.get_by_role("link", name="Capstone project")
        assert await evidence.get_attribute("href") == "https://portfolio.example/ada/project"
        assert await page.evaluate("() => document.querySelector('img.badge-image').naturalWidth") > 0
        assert await page.locator('meta[name="robots"]').get_attribute("content") == "noindex"
        await axe_check(page)
        await screenshot(page, "badge-page-share-link")

        await _sharing(scene, credential_id, sev.ShareLinkRevoked(credential_id=credential_id, share_id="share-1",
                                                                  revoked_at="2026-01-01T00:00:00Z"))

        async def revoked():
            answer = await stack.verification.get(f"/verify/{credential_id}/s/{token}")
            return await answer.text() if answer.status == 404 else None

        assert "the holder revoked this share link" in await eventually(revoked, timeout=30)
        gone = await page.goto(f"{base}/verify/{credential_id}/s/{token}")
        assert gone.status == 404 and "First class honours" not in await page.content()
        await axe_check(page)
