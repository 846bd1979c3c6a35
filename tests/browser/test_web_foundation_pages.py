"""The shared pages' layout in a real browser: sign-in by emailed link,
accessible (axe-core), no CSP violation, readable on a phone."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import msgspec
import pytest

from shared.settings import Settings
from tests.browser.conftest import axe_check, screenshot
from tests.integration.test_web_foundation import LINK
from tests.support.http import serving
from tests.support.waiting import eventually
from tests.support.web_pages import KNOWN, create_app


@pytest.fixture
def web_settings(settings: Settings, tmp_path: Path) -> Settings:
    return msgspec.structs.replace(settings, mail_outbox=str(tmp_path / "outbox"))


async def test_sign_in_with_an_emailed_link_in_a_browser(context, web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        base = str(client.make_url("")).rstrip("/")
        page = await context.new_page()
        await page.goto(f"{base}/webtest/sign-in")
        await axe_check(page)
        await page.get_by_label("Email address").fill(KNOWN)
        await page.get_by_role("button", name="Email me a sign-in link").click()
        await page.get_by_role("heading", name="Check your email").wait_for()
        await axe_check(page)
        outbox = Path(web_settings.mail_outbox)
        
        async def mails_arrived() -> list[Path] | None:
            return list(outbox.glob("*.eml")) or None

        mails = await eventually(mails_arrived, timeout=10)
        text = message_from_bytes(mails[0].read_bytes(), policy=default_policy).get_body(("plain",)).get_content()
        await page.goto(base + LINK.search(text)[1])
        await axe_check(page)
        await page.get_by_role("button", name="Continue to Test pages").click()
        await page.get_by_role("heading", name="Signed in").wait_for()
        phone = await context.new_page()
        await phone.set_viewport_size({"width": 375, "height": 740})
        await phone.goto(f"{base}/webtest/sign-in")
        assert await phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        await screenshot(phone, "sign-in-phone")
