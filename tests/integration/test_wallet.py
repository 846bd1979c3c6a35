"""The learner wallet through the real issuance, verification and wallet
services, Postgres, the relay and the broker: claim emails, credentials
from two issuers, pathway progress, downloads (an automatic award's too),
share links and privacy reaching the verification service's projection."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import asyncpg
import msgspec
import pytest

from credledger.embedded import free_port
from services.verification.sharing import access
from shared.badge_baking import unbake
from shared.events import registry as ev
from shared.holdings import HOLDINGS_PATH, service_headers
from shared.settings import Settings
from tests.support.http import bearer
from tests.support.issuance import add_pathway
from tests.support.waiting import eventually
from tests.support.wallet import LEARNER, campus, claim_mails, issue, wallet_settings, wallet_stack

HTML = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"(http://\S+/wallet/sign-in/[A-Za-z0-9_-]{30,60})")
SHARE = re.compile(r'href="(http://[^"]+/verify/[^"]+/s/[A-Za-z0-9_-]{30,60})"')


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def stack_settings(settings: Settings, outbox: Path) -> Settings:
    return wallet_settings(settings, outbox)


def mail_of(path: Path):
    mail = message_from_bytes(path.read_bytes(), policy=default_policy)
    return mail, mail.get_body(("plain",)).get_content()


async def sign_in_with(client, url: str) -> str:
    """Follows an emailed link as a browser would; returns where it landed."""
    path = url.split("://", 1)[1].split("/", 1)[1]
    confirm = await client.get(f"/{path}", headers=HTML)
    assert confirm.status == 200, await confirm.text()
    token = CSRF.search(await confirm.text())[1]
    response = await client.post(f"/{path}", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    return response.headers["Location"]


async def page(client, path: str) -> str:
    response = await client.get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return await response.text()


async def post_form(client, form_page: str, path: str, form: dict) -> str:
    """Submits a form of `form_page` (with that page's CSRF token)."""
    token = CSRF.search(await page(client, form_page))[1]
    response = await client.post(path, data={"csrf_token": token, **form}, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_claim_email_wallet_and_pathway_progress(stack_settings: Settings, db: asyncpg.Pool, outbox: Path):
    place = await campus(db, stack_settings)
    async with wallet_stack(stack_settings, db) as stack:
        python = await issue(stack, place.first, place.python, "SIS-1")
        ethics = await issue(stack, place.second, place.ethics, "EXT-1")
        await issue(stack, place.first, place.python, "SIS-2", email="someone.else@example.org")
        mails = [mail_of(p) for p in await claim_mails(outbox, 3)]
        mine = [(m, text) for m, text in mails if m["To"] == LEARNER]
        assert len(mine) == 2 and {m["Subject"] for m, _ in mine} == {
            "Your credential: Data Analysis with Python", "Your credential: Research Ethics"}
        # Idempotent and durable: every issued credential mailed once, none twice.
        await asyncio.sleep(1.5)
        assert len(list(outbox.glob("*.eml"))) == 3
        assert await db.fetchval("SELECT count(*) FROM wallet.claim_mails WHERE sent_at IS NOT NULL") == 3

        first_mail = next(text for m, text in mine if "Python" in m["Subject"])
        landed = await sign_in_with(stack.wallet, LINK.search(first_mail)[1])
        assert landed == f"/wallet/credentials/{python['credential_id']}"
        home = await page(stack.wallet, "/wallet/")
        assert "Data Analysis with Python" in home and "Research Ethics" in home
        assert "University uni-1" in home and "University uni-2" in home and "2 credentials from 2 issuers" in home
        live = await stack.wallet.get("/wallet/summary.json", params={"known": "2"})
        assert await live.json() == {"count": 2, "done": False}
        pathways = await page(stack.wallet, "/wallet/pathways")
        assert "Pathway data-science" in pathways and "Missing</span> Applied Statistics" in pathways
        assert "Still needed</dt><dd>5.0 ECTS" in pathways

        # The second component completes the pathway: the award is stacked
        # automatically, and its learner can download it (no issuer gave them a token).
        await issue(stack, place.first, place.statistics, "SIS-3")

        async def award_listed() -> str | None:
            home = await page(stack.wallet, "/wallet/")
            return home if "Certificate in Data Science" in home else None

        home = await eventually(award_listed, timeout=20)
        award_id = re.search(r'href="/wallet/credentials/([^"]+)">Certificate in Data Science', home)[1]
        png = await stack.wallet.get(f"/wallet/credentials/{award_id}/download/png")
        assert png.status == 200 and png.content_type == "image/png"
        assert png.headers["Content-Disposition"].endswith('.png"')
        credential = msgspec.json.decode(unbake(await png.read()))
        assert credential["id"] == award_id

        async def verified() -> str | None:
            response = await stack.verification.post("/v1/verifications", headers=bearer(place.employer_key),
                                                     json={"items": [{"credential": credential}]})
            verdict = (await response.json())["results"][0]["verdict"]
            return None if verdict == "unknown" else verdict

        assert await eventually(verified, timeout=20) == "valid"
        # The credit account: every credit from both issuers; the award's components are redeemed by it.
        credits = await page(stack.wallet, "/wallet/credits")
        assert "Your credit account" in credits and "Research Ethics" in credits and "University uni-2" not in credits
        assert "uni-1" in credits and "uni-2" in credits and "data-science" in credits
        # Another learner's credential is not in this wallet.
        other = await stack.wallet.get(f"/wallet/credentials/{ethics['credential_id']}x", headers=HTML)
        assert other.status == 404


async def test_share_links_and_privacy_reach_the_verification_projection(
        stack_settings: Settings, db: asyncpg.Pool, outbox: Path):
    place = await campus(db, stack_settings)
    async with wallet_stack(stack_settings, db) as stack:
        issued = await issue(stack, place.first, place.python, "SIS-1")
        credential_id = issued["credential_id"]
        [mail] = await claim_mails(outbox, 1)
        await sign_in_with(stack.wallet, LINK.search(mail_of(mail)[1])[1])
        detail = f"/wallet/credentials/{credential_id}"
        page_text = await page(stack.wallet, detail)
        assert "linkedin.com/profile/add?startTask=CERTIFICATION_NAME" in page_text
        assert "organizationName=University+uni-1" in page_text
        qr = await stack.wallet.get(detail + "/qr.svg")
        assert qr.content_type == "image/svg+xml" and b"<svg" in await qr.read()

        expires = (dt.date.today() + dt.timedelta(days=7)).isoformat()
        await post_form(stack.wallet, detail, detail + "/shares", {"name": "ACME application", "expires_on": expires})
        page_text = await page(stack.wallet, detail)
        share_url = SHARE.search(page_text)[1]
        token = share_url.rsplit("/", 1)[1]
        assert "ACME application" in page_text
        # Only the token's hash is in the ledger.
        payloads = await db.fetch("SELECT payload FROM ledger.events WHERE event_type LIKE 'sharing.%'")
        assert payloads and all(token.encode() not in bytes(p["payload"]) for p in payloads)

        await post_form(stack.wallet, detail, detail + "/privacy", {"private": "on"})

        async def projected(share_token, want):
            async def check():
                seen = await access(db, credential_id, share_token)
                return seen if seen.visible == want else None
            return await eventually(check, timeout=20)

        assert (await projected(None, False)).reason.startswith("the holder shares")
        assert (await projected(token, True)).via_share
        share_id = re.search(r'/shares/([0-9a-f-]{36})/revoke', page_text)[1]
        await post_form(stack.wallet, detail, f"{detail}/shares/{share_id}/revoke", {})
        assert (await projected(token, False)).reason == "the holder revoked this share link"
        await post_form(stack.wallet, detail, detail + "/privacy", {})
        assert (await projected(None, True)).visible
        bad = await stack.wallet.post(detail + "/shares", data={"name": "x", "expires_on": "2001-01-01"})
        assert bad.status == 403  # no CSRF token


async def test_a_learner_claims_a_pathway_award_from_the_wallet(
        stack_settings: Settings, db: asyncpg.Pool, outbox: Path):
    place = await campus(db, stack_settings)
    # A pathway of the second university that awards only when claimed.
    award = await place.world.achievement(place.second, title="Certificate in Research Practice",
                                          workload=ev.Workload(ects=5.0))
    await add_pathway(place.world, place.second, "research-practice", award,
                      ev.PathwayRule(required=[place.ethics], auto_award=False))
    async with wallet_stack(stack_settings, db) as stack:
        await issue(stack, place.second, place.ethics, "EXT-1")
        [mail] = await claim_mails(outbox, 1)
        await sign_in_with(stack.wallet, LINK.search(mail_of(mail)[1])[1])
        pathways = await page(stack.wallet, "/wallet/pathways")
        assert "Claim Certificate in Research Practice" in pathways
        # Without the page's CSRF token the claim is refused and nothing is awarded.
        refused = await stack.wallet.post("/wallet/pathways/research-practice/claim", data={})
        assert refused.status == 403
        landed = await post_form(stack.wallet, "/wallet/pathways", "/wallet/pathways/research-practice/claim", {})
        award_id = landed.rsplit("/", 1)[1]
        assert "Certificate in Research Practice" in await page(stack.wallet, landed)
        assert await db.fetchval("SELECT count(*) FROM issuance.stacks WHERE pathway_id = 'research-practice'") == 1
        # Claiming again answers with the same award, not a second one.
        again = await post_form(stack.wallet, "/wallet/pathways", "/wallet/pathways/research-practice/claim", {})
        assert again.rsplit("/", 1)[1] == award_id
        assert await db.fetchval("SELECT count(*) FROM issuance.stacks WHERE pathway_id = 'research-practice'") == 1


async def test_the_internal_holdings_api_needs_a_service_token(stack_settings: Settings, db: asyncpg.Pool):
    await campus(db, stack_settings)
    async with wallet_stack(stack_settings, db) as stack:
        anonymous = await stack.issuance.post(HOLDINGS_PATH, json={"email": LEARNER})
        assert anonymous.status == 401
        forged = await stack.issuance.post(HOLDINGS_PATH, json={"email": LEARNER},
                                           headers=service_headers(stack_settings.master_key, "registry"))
        assert forged.status == 403
        ok = await stack.issuance.post(HOLDINGS_PATH, json={"email": LEARNER},
                                       headers=service_headers(stack_settings.master_key, "wallet"))
        assert ok.status == 200 and (await ok.json())["credentials"] == []


async def test_a_claim_email_that_cannot_be_sent_is_kept_and_retried(settings: Settings, db: asyncpg.Pool,
                                                                      outbox: Path):
    unreachable = msgspec.structs.replace(
        wallet_settings(settings, outbox), mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port(),
        smtp_tls="none", smtp_timeout_seconds=2)
    place = await campus(db, unreachable)
    async with wallet_stack(unreachable, db) as stack:
        issued = await issue(stack, place.first, place.python, "SIS-1")

        async def failed_once():
            row = await db.fetchrow("SELECT attempts, sent_at, last_error FROM wallet.claim_mails"
                                    " WHERE credential_id = $1", issued["credential_id"])
            return row if row is not None and row["attempts"] >= 1 else None

        row = await eventually(failed_once, timeout=30)
        assert row["sent_at"] is None and "SMTP" in row["last_error"]
        assert LEARNER not in row["last_error"]
        due = await db.fetchval("SELECT next_attempt_at > now() FROM wallet.claim_mails WHERE credential_id = $1",
                                issued["credential_id"])
        assert due  # backed off, not dropped
