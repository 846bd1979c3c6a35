"""The employer portal over real HTTP, with the real verification service
behind it: the sign-in page a browser gets, CSRF refusals, one employer
never seeing another's checks, and single checks of a pasted JWT, a
tampered document and an uploaded baked image; a small candidate file end
to end with its CSV export."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from email import message_from_bytes
from email.policy import default as default_policy

import aiohttp
import msgspec

from shared.badge_baking import bake_png
from shared.badge_image import BadgeText, badge_png
from shared.events import credentials as cev
from tests.support.credentials_for_verification import build_scene, change_status, eventually, issue
from tests.support.employer import csrf_token, portal, sign_in_with_key, verification_for_portal


async def _orgs(db) -> int:
    return await db.fetchval("SELECT count(*) FROM employer.organisations")


async def test_a_browser_opening_the_portal_gets_the_sign_in_page_not_a_401(db, settings):
    await build_scene(db, settings)
    async with verification_for_portal(settings) as stack, portal(stack.settings) as client:
        response = await client.get("/employer", headers={"Accept": "text/html"})
        assert response.status == 200 and response.url.path == "/employer/sign-in"
        page = await response.text()
        assert "Employer API key" in page and "Email me a sign-in link" in page
        assert "Content-Security-Policy" in response.headers
        healthy = await client.get("/readyz")
        assert healthy.status == 200


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(db, settings):
    scene = await build_scene(db, settings)
    async with verification_for_portal(settings) as stack, portal(stack.settings) as client:
        await csrf_token(client)  # a session exists, but the form below does not carry its token
        for data in ({"api_key": scene.employer_key, "email": "hr@acme.example"},
                     {"api_key": scene.employer_key, "email": "hr@acme.example", "csrf_token": "forged"}):
            refused = await client.post("/employer/sign-in/key", data=data, allow_redirects=False)
            assert refused.status == 403
            assert (await refused.json())["type"].endswith("csrf-token-invalid")
        assert await _orgs(db) == 0
        await sign_in_with_key(client, scene.employer_key, "hr@acme.example")
        # Signed in, an upload without the token is refused before it is read.
        form = aiohttp.FormData()
        form.add_field("file", b"name,email,credential\nAda,ada@example.org,x\n", filename="c.csv")
        refused = await client.post("/employer/checks/bulk", data=form, allow_redirects=False)
        assert refused.status == 403
        assert await db.fetchval("SELECT count(*) FROM employer.checks") == 0


async def _single(client, text: str = "", email: str = "", image: bytes | None = None) -> str:
    form = aiohttp.FormData()
    form.add_field("csrf_token", await csrf_token(client, "/employer/"))
    form.add_field("text", text)
    form.add_field("email", email)
    if image is not None:
        form.add_field("image", image, filename="badge.png", content_type="image/png")
    response = await client.post("/employer/checks/single", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_pasted_jwt_tampered_document_and_baked_image(db, settings):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    async with verification_for_portal(settings) as stack, portal(stack.settings) as client:
        await sign_in_with_key(client, scene.employer_key, "hr@acme.example")

        page = await (await client.get(await _single(client, ada.jwt(scene.issuer), "ada@example.org"))).text()
        assert "Valid" in page and "Matches the candidate&#39;s email" in page

        tampered = copy.deepcopy(ada.document)
        tampered["credentialSubject"]["achievement"]["name"] = "Doctorate in Everything"
        page = await (await client.get(await _single(client, json.dumps(tampered), "grace@example.org"))).text()
        assert "Not valid" in page and "changed after it was issued" in page
        assert "Issued to someone else" in page

        baked = bake_png(badge_png(BadgeText("Data", "EQF level 6", "Uni")), json.dumps(ada.document))
        page = await (await client.get(await _single(client, image=baked))).text()
        assert "badge.png" in page and "pill-ok" in page

        not_baked = aiohttp.FormData()
        not_baked.add_field("csrf_token", await csrf_token(client, "/employer/"))
        not_baked.add_field("image", badge_png(BadgeText("x", "y", "z")), filename="plain.png",
                            content_type="image/png")
        refused = await client.post("/employer/checks/single", data=not_baked, headers={"Accept": "text/html"})
        assert refused.status == 422 and "carries no credential" in await refused.text()


async def test_one_employer_never_sees_another_employers_checks(db, settings):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    async with verification_for_portal(settings) as stack, \
            portal(stack.settings) as acme, portal(stack.settings) as globex:
        await sign_in_with_key(acme, scene.employer_key, "hr@acme.example")
        await sign_in_with_key(globex, scene.other_employer_key, "hr@globex.example")
        check = await _single(acme, ada.credential_id)
        assert (await acme.get(check)).status == 200
        for suffix in ("", "/progress", "/results.csv"):
            answer = await globex.get(check + suffix, headers={"Accept": "text/html"})
            assert answer.status == 404, suffix
        assert ada.credential_id not in await (await globex.get("/employer/")).text()


async def test_a_candidate_file_runs_as_a_verification_job_and_exports_defused_csv(db, settings):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="ada@example.org")
    revoked = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="alan@example.org")
    await change_status(scene.ledger, scene.issuer, revoked.credential_id, cev.CredentialRevoked)
    rows = [
        "Name,Email,Credential",
        f"Ada Lovelace,ada@example.org,http://127.0.0.1:8080/verify/{ada.credential_id}",
        f"=HYPERLINK(\"x\"),grace@example.org,{ada.credential_id}",
        f"Alan Turing,alan@example.org,{revoked.credential_id}",
        "Nobody,nobody@example.org,not a credential",
    ]
    async with verification_for_portal(settings) as stack, portal(stack.settings) as client:
        await sign_in_with_key(client, scene.employer_key, "hr@acme.example")
        form = aiohttp.FormData()
        form.add_field("csrf_token", await csrf_token(client, "/employer/"))
        form.add_field("file", "\n".join(rows).encode(), filename="candidates.csv", content_type="text/csv")
        response = await client.post("/employer/checks/bulk", data=form, allow_redirects=False)
        assert response.status == 303
        check = response.headers["Location"]

        async def finished():
            progress = await (await client.get(check + "/progress")).json()
            return progress if progress["done"] else None

        progress = await eventually(finished, timeout=30)
        text = await (await client.get(check + "/results.csv")).text()
        # An email that does not match makes the verdict "not valid" (the verification service's rule).
        assert (progress["valid"], progress["invalid"], progress["unknown"]) == (1, 2, 1), text
        exported = list(csv.DictReader(io.StringIO(text)))
        assert [r["verdict"] for r in exported] == ["Valid", "Not valid", "Not valid", "Cannot check"]
        assert "issued to someone else" in exported[1]["reasons"]
        assert [r["identity_match"] for r in exported[:3]] == [
            "Matches the candidate's email", "Issued to someone else", "Matches the candidate's email"]
        assert exported[1]["name"] == "'=HYPERLINK(\"x\")"  # defused for spreadsheets
        assert exported[2]["reasons"].startswith("Revoked by the issuer")
        only_invalid = await (await client.get(check + "/results.csv?verdict=invalid")).text()
        assert len(list(csv.DictReader(io.StringIO(only_invalid)))) == 2
        history = await (await client.get("/employer/")).text()
        assert "candidates.csv" in history


async def test_an_invited_colleague_signs_in_with_the_emailed_link_and_shares_the_history(db, settings, tmp_path):
    scene = await build_scene(db, settings)
    ada = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    settings = msgspec.structs.replace(settings, mail_backend="file", mail_outbox=str(tmp_path / "outbox"))
    async with verification_for_portal(settings) as stack, \
            portal(stack.settings) as admin, portal(stack.settings) as colleague:
        await sign_in_with_key(admin, scene.employer_key, "hr@acme.example")
        await _single(admin, ada.credential_id)
        token = await csrf_token(admin, "/employer/colleagues")
        invited = await admin.post("/employer/colleagues", data={"csrf_token": token,
                                                                "email": "Recruiter@Acme.example"})
        assert "Invitation sent to recruiter@acme.example" in await invited.text()
        # Someone never invited asks for a link: the same answer, no mail.
        token = await csrf_token(colleague)
        stranger = await colleague.post("/employer/sign-in", data={"csrf_token": token,
                                                                  "email": "stranger@example.org"})
        assert stranger.status == 200
        mails = await eventually(lambda: _mails(tmp_path), timeout=10)
        assert len(mails) == 1
        text = message_from_bytes(mails[0].read_bytes(), policy=default_policy).get_body(("plain",)).get_content()
        link = re.search(r"(/employer/sign-in/[A-Za-z0-9_-]{30,60})", text)[1]
        token = await csrf_token(colleague, link)
        signed_in = await colleague.post(link, data={"csrf_token": token}, allow_redirects=False)
        assert signed_in.status == 303
        home = await (await colleague.get("/employer/")).text()
        assert ada.credential_id in home and "recruiter@acme.example" in home
        people = await (await colleague.get("/employer/colleagues")).text()
        assert "Send an invitation" not in people  # members do not invite
        token = await csrf_token(colleague, "/employer/colleagues")
        refused = await colleague.post("/employer/colleagues",
                                       data={"csrf_token": token, "email": "x@acme.example"})
        assert refused.status == 403


async def _mails(folder) -> list | None:
    found = sorted((folder / "outbox").glob("*.eml")) if (folder / "outbox").exists() else []
    return found or None
