"""The shared web foundation (shared/web/) through a real service app and Postgres:
CSRF on every unsafe method, emailed sign-in links that work once and expire,
rate limits, no account enumeration, sessions, and the security headers."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import asyncpg
import msgspec
import pytest
from aiohttp.test_utils import TestClient

from shared.settings import Settings
from tests.support.http import serving
from tests.support.web_pages import KNOWN, create_app

HTML = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"(/webtest/sign-in/[A-Za-z0-9_-]{30,60})")


@pytest.fixture
def web_settings(settings: Settings, tmp_path: Path) -> Settings:
    return msgspec.structs.replace(settings, mail_backend="file", mail_outbox=str(tmp_path / "outbox"))


async def csrf_of(client: TestClient, path: str = "/webtest/sign-in") -> str:
    response = await client.get(path, headers=HTML)
    return CSRF.search(await response.text())[1]


def outbox(settings: Settings) -> list[Path]:
    folder = Path(settings.mail_outbox)
    return sorted(folder.glob("*.eml")) if folder.exists() else []


async def ask_link(client: TestClient, address: str) -> tuple[int, str]:
    token = await csrf_of(client)
    response = await client.post("/webtest/sign-in", data={"csrf_token": token, "email": address}, headers=HTML)
    return response.status, await response.text()


async def wait_for_mail(settings: Settings, count: int) -> list[Path]:
    import asyncio
    for _ in range(100):
        if len(outbox(settings)) >= count:
            return outbox(settings)
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} messages in the outbox, found {len(outbox(settings))}")


def link_in(path: Path) -> str:
    mail = message_from_bytes(path.read_bytes(), policy=default_policy)
    text = mail.get_body(("plain",)).get_content()
    assert mail.get_body(("html",)) is not None
    return LINK.search(text)[1]


async def test_pages_carry_a_strict_csp_and_the_session_cookie_is_locked_down(web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        response = await client.get("/webtest/sign-in", headers=HTML)
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/webtest" in cookie
        assert "Secure" not in cookie  # http origin; https origins get Secure
        page = await response.text()
        assert '<html lang="en">' in page and 'href="#main"' in page and '<label for="email">' in page
        css = await client.get("/webtest/static/app.css")
        assert css.status == 200 and css.content_type == "text/css"
        again = await client.get("/webtest/static/app.css", headers={"If-None-Match": css.headers["ETag"]})
        assert again.status == 304


async def test_an_unsafe_method_without_the_csrf_token_is_a_403_problem(web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        token = await csrf_of(client)
        missing = await client.post("/webtest/sign-in", data={"email": KNOWN})
        assert missing.status == 403
        assert (await missing.json())["type"].endswith("/csrf-token-invalid")
        wrong = await client.post("/webtest/sign-in", data={"email": KNOWN, "csrf_token": token + "x"})
        assert wrong.status == 403
        header = await client.post("/webtest/echo", headers={"X-CSRF-Token": token}, allow_redirects=False)
        assert header.status == 303  # the token passes; not signed in, so to the sign-in page
        assert outbox(web_settings) == []


async def test_a_sign_in_link_works_once(web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        status, _ = await ask_link(client, KNOWN)
        assert status == 200
        link = link_in((await wait_for_mail(web_settings, 1))[0])
        confirm = await client.get(link, headers=HTML)  # a mail scanner's GET uses nothing up
        assert confirm.status == 200
        token = CSRF.search(await confirm.text())[1]
        signed_in = await client.post(link, data={"csrf_token": token}, allow_redirects=False)
        assert signed_in.status == 303 and signed_in.headers["Location"] == "/webtest/"
        home = await client.get("/webtest/", headers=HTML)
        assert home.status == 200 and "Signed in" in await home.text()
        # The session was replaced on sign-in: the pre-sign-in CSRF token is dead.
        stale = await client.post("/webtest/echo", data={"csrf_token": token})
        assert stale.status == 403
        fresh = await csrf_of(client, "/webtest/")
        assert (await client.post("/webtest/echo", data={"csrf_token": fresh})).status == 200
        reused = await client.post(link, data={"csrf_token": fresh})
        assert reused.status == 422
        assert (await client.get(link, headers=HTML)).status == 410


async def test_an_expired_link_does_not_sign_in(web_settings: Settings, db: asyncpg.Pool) -> None:
    async with serving(create_app, web_settings) as client:
        await ask_link(client, KNOWN)
        link = link_in((await wait_for_mail(web_settings, 1))[0])
        await db.execute("UPDATE web.sign_in_links SET expires_at = now() - interval '1 second'")
        token = await csrf_of(client)
        response = await client.post(link, data={"csrf_token": token}, headers=HTML)
        assert response.status == 422 and "cannot be used" in await response.text()
        assert (await client.get("/webtest/", allow_redirects=False)).status == 303


async def test_known_and_unknown_addresses_get_the_same_answer(web_settings: Settings, db: asyncpg.Pool) -> None:
    async with serving(create_app, web_settings) as client:
        known = await ask_link(client, KNOWN)
        unknown = await ask_link(client, "stranger@example.org")
        strip = re.compile(r'value="[^"]+"|\?v=[0-9a-f]+')
        assert known[0] == unknown[0] == 200
        assert strip.sub("", known[1]) == strip.sub("", unknown[1])
        assert len(await wait_for_mail(web_settings, 1)) == 1
        stored = await db.fetch("SELECT sealed_subject FROM web.sign_in_links")
        assert len(stored) == 1 and KNOWN.encode() not in bytes(stored[0]["sealed_subject"])


async def test_sign_in_requests_are_rate_limited_per_address(web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        statuses = [(await ask_link(client, "stranger@example.org"))[0] for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        assert (await ask_link(client, KNOWN))[0] == 200  # another address still may


async def test_sign_in_requests_are_rate_limited_per_client(web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        statuses = [(await ask_link(client, f"person{n}@example.org"))[0] for n in range(21)]
        assert statuses == [200] * 20 + [429]


async def test_a_malformed_address_is_refused_with_the_form_again(web_settings: Settings) -> None:
    async with serving(create_app, web_settings) as client:
        status, page = await ask_link(client, "not an address")
        assert status == 422 and 'aria-invalid="true"' in page


async def test_on_an_https_origin_the_session_cookie_is_secure(web_settings: Settings) -> None:
    https = msgspec.structs.replace(web_settings, public_base_url="https://credentials.example")
    async with serving(create_app, https) as client:
        response = await client.get("/webtest/sign-in", headers=HTML)
        assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
