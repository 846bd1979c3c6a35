"""A learner's wallet in headless chromium, against the real issuance,
verification and wallet services: the claim email from the outbox opens the
wallet; credentials from two issuers and a pathway's progress are listed; a
downloaded baked PNG verifies; an expiring share link opens the badge page
and stops working once revoked. axe-core on every wallet page; screenshots."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import aiohttp
import msgspec
import pytest

from shared.badge_baking import unbake
from shared.settings import Settings
from tests.browser.conftest import axe_check, screenshot
from tests.support.http import bearer
from tests.support.waiting import eventually
from tests.support.wallet import LEARNER, campus, claim_mails, issue, wallet_settings, wallet_stack

LINK = re.compile(r"(http://\S+/wallet/sign-in/[A-Za-z0-9_-]{30,60})")


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


def claim_link(paths: list[Path], subject: str) -> str:
    for path in paths:
        mail = message_from_bytes(path.read_bytes(), policy=default_policy)
        if mail["To"] == LEARNER and subject in mail["Subject"]:
            return LINK.search(mail.get_body(("plain",)).get_content())[1]
    raise AssertionError(f"no claim email about {subject!r} for the learner in the outbox")


async def status_of(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url, headers={"Accept": "text/html"}) as response:
        return response.status


async def test_a_learner_claims_shares_and_revokes_in_a_browser(context, settings: Settings, db, outbox: Path,
                                                              tmp_path: Path) -> None:
    stack_settings = wallet_settings(settings, outbox)
    place = await campus(db, stack_settings)
    async with wallet_stack(stack_settings, db) as stack:
        python = await issue(stack, place.first, place.python, "SIS-1")
        await issue(stack, place.second, place.ethics, "EXT-1")
        link = claim_link(await claim_mails(outbox, 2), "Data Analysis with Python")

        page = await context.new_page()
        await page.goto(link)
        await axe_check(page)
        await page.get_by_role("button", name="Continue to Wallet").click()
        await page.get_by_role("heading", name="Data Analysis with Python").wait_for()
        assert page.url.endswith(f"/wallet/credentials/{python['credential_id']}")

        await page.get_by_role("link", name="Credentials").click()
        await page.get_by_role("heading", name="Your credentials").wait_for()
        cards = page.get_by_role("list", name="Credentials").get_by_role("listitem")
        assert await cards.count() == 2
        text = await page.locator("main").inner_text()
        assert "University uni-1" in text and "University uni-2" in text and "Research Ethics" in text
        await axe_check(page)
        await screenshot(page, "wallet-home")

        await page.get_by_role("link", name="Pathways").click()
        pathway = page.locator("#pathway-data-science")
        await pathway.wait_for()
        assert await pathway.get_by_text("Missing").count() == 1
        assert "Progress: 50%" in await pathway.inner_text()
        await axe_check(page)
        await screenshot(page, "wallet-pathways")

        await page.get_by_role("link", name="Credits", exact=True).click()
        await page.get_by_role("heading", name="Your credit account").wait_for()
        assert await page.get_by_role("row").count() == 3  # the header and both credentials
        await axe_check(page)
        await screenshot(page, "wallet-credits")

        await page.goto(f"{stack.wallet_url}/credentials/{python['credential_id']}")
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="Badge image (PNG, credential inside)").click()
        download = await downloading.value
        assert re.fullmatch(r"data-analysis-with-python-[0-9a-f]{8}\.png", download.suggested_filename)
        saved = tmp_path / download.suggested_filename
        await download.save_as(str(saved))
        baked = msgspec.json.decode(unbake(saved.read_bytes()))

        async def verdict() -> str | None:
            response = await stack.verification.post("/v1/verifications", headers=bearer(place.employer_key),
                                                     json={"items": [{"credential": baked}]})
            found = (await response.json())["results"][0]["verdict"]
            return None if found == "unknown" else found

        assert await eventually(verdict, timeout=20) == "valid"

        await page.get_by_label("Name of the new link (who it is for)").fill("ACME application")
        await page.get_by_label("Expires on (optional)").fill((dt.date.today() + dt.timedelta(days=14)).isoformat())
        await page.get_by_role("button", name="Create share link").click()
        row = page.locator("tr.just-created")
        await row.wait_for()
        share_url = await row.locator("a.share-url").get_attribute("href")
        row_id = await row.get_attribute("id")
        assert "/s/" in share_url and "Active" in await row.inner_text()
        await axe_check(page)
        await screenshot(page, "wallet-credential")

        async def opens(want: int):
            async def check():
                return True if await status_of(share_url) == want else None
            return await eventually(check, timeout=20)

        await opens(200)
        badge = await context.new_page()
        await badge.goto(share_url)
        assert "Data Analysis with Python" in await badge.locator("main").inner_text()
        await axe_check(badge)
        await screenshot(badge, "badge-page-through-share-link")

        # Private: the public badge page stops answering; the share link still opens it.
        public_page = share_url.split("/s/", 1)[0]
        await page.get_by_label("Private: the badge page answers only through my share links").check()
        await page.get_by_role("button", name="Save privacy setting").click()
        await page.get_by_text("Now: private").wait_for()

        async def hidden() -> bool | None:
            return True if await status_of(public_page) == 404 else None

        await eventually(hidden, timeout=20)
        assert await status_of(share_url) == 200
        row = page.locator(f"tr#{row_id}")

        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Revoke").click()
        await page.get_by_text("Revoked").first.wait_for()
        await opens(404)

        phone = await context.new_page()
        await phone.set_viewport_size({"width": 375, "height": 740})
        await phone.goto(f"{stack.wallet_url}/")
        assert await phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(phone, "wallet-home-phone")

        # Live: the open home page shows a new credential (here the second
        # component and the award stacked from it) without a click.
        await page.goto(f"{stack.wallet_url}/")
        await issue(stack, place.first, place.statistics, "SIS-2")
        await page.get_by_role("link", name="Certificate in Data Science").wait_for(timeout=30_000)
