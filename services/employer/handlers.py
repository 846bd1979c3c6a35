"""HTTP handlers of the employer portal's pages (domain code: checks.py,
organisations.py). Sessions, CSRF and emailed sign-in are shared/web's."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import msgspec
from aiohttp import BodyPartReader, MultipartReader, web

from services.employer import checks, organisations
from services.employer.checks import Acting
from services.employer.organisations import User
from services.employer.portal import PORTAL_KEY
from services.employer.reasons import IDENTITY_WORDS, VERDICT_WORDS
from shared.badge_baking import BakingError, unbake
from shared.csv_safety import csv_row
from shared.mail import MailFailed, Message
from shared.refusals import Invalid, NotFound
from shared.web import pages
from shared.web.security import MULTIPART_KEY, sign_in_session
from shared.web.sign_in_routes import client_of

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 1024 * 1024
MAX_PASTE_BYTES = 512 * 1024
PER_PAGE = 100
RESULT_COLUMNS = ("row", "name", "email", "credential", "verdict", "reasons", "identity_match", "credential_id",
                  "title", "issuer", "issued_on")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_post("/sign-in/key", sign_in_with_key)
    app.router.add_post("/checks/single", check_single)
    app.router.add_post("/checks/bulk", check_bulk)
    app.router.add_get("/checks/{check_id}", check_page)
    app.router.add_get("/checks/{check_id}/progress", check_progress)
    app.router.add_get("/checks/{check_id}/results.csv", results_csv)
    app.router.add_get("/colleagues", colleagues_page)
    app.router.add_post("/colleagues", invite)


async def _user(request: web.Request) -> User:
    email = pages.signed_in_subject(request)
    user = await organisations.user_for_email(request.app[PORTAL_KEY].pool, email)
    if user is None:  # removed since signing in
        raise web.HTTPSeeOther(request.app[pages.REALM_KEY].prefix + "/sign-in")
    return user


async def _acting(request: web.Request) -> Acting:
    user = await _user(request)
    return Acting(user, await request.app[PORTAL_KEY].api_key(user.tenant_id))


def _words(request: web.Request) -> dict:
    return {"verdict_words": VERDICT_WORDS, "identity_words": IDENTITY_WORDS,
            "badge_origin": request.app[pages.SETTINGS_KEY].page_origin("verification")}


async def home(request: web.Request) -> web.Response:
    user = await _user(request)
    history = [{**row, "counts": _counts(row)} for row in await checks.history(request.app[PORTAL_KEY].pool, user)]
    return await pages.render(request, "home.html", {"user": user, "history": history, "error": "", **_words(request)})


async def sign_in_with_key(request: web.Request) -> web.Response:
    form = await request.post()
    portal = request.app[PORTAL_KEY]
    await request.app[pages.LINKS_KEY].check_rate(str(form.get("email", "")).lower(), client_of(request))
    try:
        user = await organisations.sign_in_with_key(portal.pool, portal.vault, portal.client,
                                                    str(form.get("api_key", "")), str(form.get("email", "")))
    except Invalid as refusal:
        return await pages.render(request, "sign_in.html", {
            "address": str(form.get("email", ""))[:254], "error": "", "key_error": refusal.detail}, status=422)
    await sign_in_session(request, user.email)
    log.info("employer signed in with the API key", extra={"tenant": user.tenant_id})
    raise web.HTTPSeeOther(request.app[pages.REALM_KEY].prefix + "/")


async def _fields(request: web.Request) -> AsyncIterator[tuple[str, BodyPartReader | str]]:
    """The form's fields after the CSRF token (which the security middleware
    read): multipart parts as they stream, or a plain form's values."""
    if MULTIPART_KEY not in request:
        for name, value in (await request.post()).items():
            if isinstance(value, str) and name != "csrf_token":
                yield name, value
        return
    reader: MultipartReader = request[MULTIPART_KEY]
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader):
            yield part.name or "", part


async def _read_part(part: BodyPartReader | str, limit: int, what: str) -> bytes:
    if isinstance(part, str):
        return part.encode()[:limit]
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise Invalid(f"the {what} is larger than {limit // 1024} KiB", code="too-large")
    return bytes(data)


async def check_single(request: web.Request) -> web.Response:
    acting = await _acting(request)
    text = email = label = ""
    async for name, part in _fields(request):
        if name == "image" and isinstance(part, BodyPartReader) and part.filename:
            image = await _read_part(part, MAX_IMAGE_BYTES, "image")
            if image:
                try:
                    text, label = unbake(image), part.filename
                except BakingError as exc:
                    raise Invalid(f"this image carries no credential: {exc}", code="not-baked") from None
        elif name in ("text", "email"):
            value = (await _read_part(part, MAX_PASTE_BYTES, name)).decode("utf-8", "replace")
            if name == "email":
                email = value
            elif value.strip() and not text:
                text = value
    item = checks.item_from_text(text, email)
    label = label or (item.id or ("pasted JWT" if item.jwt else "pasted JSON document"))
    portal = request.app[PORTAL_KEY]
    check_id = await checks.check_one(portal.pool, portal.client, acting, item, label)
    raise web.HTTPSeeOther(f"{request.app[pages.REALM_KEY].prefix}/checks/{check_id}")


async def check_bulk(request: web.Request) -> web.Response:
    acting = await _acting(request)
    async for name, part in _fields(request):
        if name == "file" and isinstance(part, BodyPartReader) and part.filename:
            portal = request.app[PORTAL_KEY]
            check_id = await checks.start_bulk(portal.pool, portal.client, acting, part.filename, _chunks(part))
            portal.tracker.wake.set()
            raise web.HTTPSeeOther(f"{request.app[pages.REALM_KEY].prefix}/checks/{check_id}")
    raise Invalid("choose a CSV file of candidates to upload", code="no-file")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(256 * 1024):
        yield chunk


async def _check(request: web.Request) -> tuple[User, asyncpg.Record]:
    user = await _user(request)
    return user, await checks.check_of(request.app[PORTAL_KEY].pool, user, request.match_info["check_id"])


def _int(value: str | None, default: int = 0) -> int:
    try:
        return max(int(value or default), 0)
    except ValueError:
        raise NotFound("no such page of results") from None


async def check_page(request: web.Request) -> web.Response:
    user, check = await _check(request)
    verdict = checks.verdict_filter(request.query.get("verdict"))
    page = _int(request.query.get("page"))
    rows = await checks.results_page(request.app[PORTAL_KEY].pool, check, verdict, page, PER_PAGE)
    done = check["status"] in ("completed", "failed")
    return await pages.render(request, "check.html", {
        "user": user, "check": check, "counts": _counts(check), "rows": rows, "verdict": verdict or "all",
        "page": page, "per_page": PER_PAGE, "done": done, "percent": _percent(check), **_words(request)})


def _counts(check: Mapping[str, Any]) -> dict[str, int]:
    counts = msgspec.json.decode(check["counts"])
    return {v: int(counts.get(v, 0)) for v in checks.VERDICTS}


def _percent(check: asyncpg.Record) -> int:
    return int(100 * check["done"] / check["total"]) if check["total"] else 0


async def check_progress(request: web.Request) -> web.Response:
    _, check = await _check(request)
    # Flat, as shared/web's live.js reads it: `done` says whether to stop polling.
    return web.json_response({
        "status": check["status"], "checked": check["done"], "total": check["total"], "percent": _percent(check),
        **_counts(check), "error": check["error"] or "", "done": check["status"] in ("completed", "failed")},
        headers={"Cache-Control": "no-store"})


async def results_csv(request: web.Request) -> web.StreamResponse:
    _, check = await _check(request)
    verdict = checks.verdict_filter(request.query.get("verdict"))
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="check-{str(check["check_id"])[:8]}-results.csv"'})
    await response.prepare(request)
    await response.write(csv_row(RESULT_COLUMNS).encode())
    async for rows in checks.result_rows(request.app[PORTAL_KEY].pool, check, verdict):
        await response.write("".join(csv_row(_csv_cells(r)) for r in rows).encode())
    await response.write_eof()
    return response


def _csv_cells(row: asyncpg.Record) -> list[str]:
    verdict = row["verdict"]
    return [str(row["row_no"] + 1), row["name"], row["email"], row["credential"],
            VERDICT_WORDS[verdict] if verdict else "Pending", row["reasons"] or "",
            IDENTITY_WORDS[row["identity"]] if row["identity"] else "", row["credential_id"] or "",
            row["title"] or "", row["issuer"] or "", row["issued_on"] or ""]


async def colleagues_page(request: web.Request, notice: str = "", status: int = 200) -> web.Response:
    user = await _user(request)
    people = await organisations.colleagues(request.app[PORTAL_KEY].pool, user.tenant_id)
    return await pages.render(request, "colleagues.html", {"user": user, "people": people, "notice": notice},
                              status=status)


async def invite(request: web.Request) -> web.Response:
    user = await _user(request)
    form = await request.post()
    invited = await organisations.invite(request.app[PORTAL_KEY].pool, user, str(form.get("email", "")))
    if invited is None:
        return await colleagues_page(request, "That address already belongs to this employer.")
    url = await pages.issue_sign_in_link(request.app, invited.email)
    task = asyncio.create_task(_mail_invitation(request.app, invited.email, url))
    request.app[pages.TASKS_KEY].add(task)
    task.add_done_callback(request.app[pages.TASKS_KEY].discard)
    return await colleagues_page(request, f"Invitation sent to {invited.email}.")


async def _mail_invitation(app: web.Application, address: str, url: str) -> None:
    jinja = app[pages.JINJA_KEY]
    context = {"realm": app[pages.REALM_KEY], "url": url,
               "minutes": app[pages.SETTINGS_KEY].sign_in_link_max_age_seconds // 60}
    message = Message(to=address, subject="You are invited to the employer portal",
                      text=jinja.get_template("mail/invitation.txt").render(context),
                      html=jinja.get_template("mail/invitation.html").render(context))
    try:
        await app[pages.MAILER_KEY].send(message)
    except MailFailed:
        log.warning("invitation mail not sent")
