"""The emailed sign-in routes every realm shares.

GET of a link only shows a button: mail scanners and link previews fetch
links, and must not use up a single-use token. The POST behind the button
consumes it and starts a fresh session. Asking for a link answers the same
page whether or not a link was sent, and sends the mail off the request
path so the timing says nothing either.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web

from shared.mail import MailFailed, Message
from shared.web import pages
from shared.web.security import sign_in_session, sign_out_session

log = logging.getLogger("credledger.web")
ADDRESS = re.compile(r"^[^@\s\"(),:;<>\[\\\]]{1,64}@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{30,60}$")


def add(app: web.Application) -> None:
    app.router.add_get("/sign-in", sign_in_form)
    app.router.add_post("/sign-in", request_link)
    app.router.add_get("/sign-in/{token}", confirm_form)
    app.router.add_post("/sign-in/{token}", use_link)
    app.router.add_post("/sign-out", sign_out)


def client_of(request: web.Request) -> str:
    # Behind the gateway the peer is nginx: the last X-Forwarded-For hop is
    # the one nginx added (earlier ones are the client's to forge).
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.rsplit(",", 1)[-1].strip() if forwarded else (request.remote or "")


async def sign_in_form(request: web.Request) -> web.Response:
    return await pages.render(request, "sign_in.html", {"address": "", "error": ""})


async def request_link(request: web.Request) -> web.Response:
    form = await request.post()
    address = str(form.get("email", "")).strip().lower()
    if not ADDRESS.match(address):
        return await pages.render(request, "sign_in.html", {
            "address": address[:254], "error": "Enter an email address, like name@example.org."}, status=422)
    app = request.app
    await app[pages.LINKS_KEY].check_rate(address, client_of(request))
    if await app[pages.REALM_KEY].may_sign_in(app, address):
        url = await pages.issue_sign_in_link(app, address)
        task = asyncio.create_task(_mail_link(app, address, url))
        app[pages.TASKS_KEY].add(task)
        task.add_done_callback(app[pages.TASKS_KEY].discard)
    return await pages.render(request, "sign_in_sent.html", {})


async def _mail_link(app: web.Application, address: str, url: str) -> None:
    realm, minutes = app[pages.REALM_KEY], app[pages.SETTINGS_KEY].sign_in_link_max_age_seconds // 60
    jinja = app[pages.JINJA_KEY]
    context = {"realm": realm, "url": url, "minutes": minutes}
    message = Message(to=address, subject=f"Sign in to {realm.title}",
                      text=jinja.get_template("mail/sign_in.txt").render(context),
                      html=jinja.get_template("mail/sign_in.html").render(context))
    try:
        await app[pages.MAILER_KEY].send(message)
    except MailFailed:
        log.warning("sign-in mail not sent", extra={"realm": realm.name})


async def confirm_form(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    usable = bool(TOKEN.match(token)) and await request.app[pages.LINKS_KEY].usable(token)
    return await pages.render(request, "sign_in_confirm.html", {"token": token, "usable": usable},
                              status=200 if usable else 410)


async def use_link(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not TOKEN.match(token):
        return await pages.render(request, "sign_in_confirm.html", {"token": "", "usable": False}, status=410)
    signed_in = await request.app[pages.LINKS_KEY].consume(token)
    await sign_in_session(request, signed_in.subject)
    realm = request.app[pages.REALM_KEY]
    next_path = signed_in.next_path if signed_in.next_path.startswith("/") else realm.home
    raise web.HTTPSeeOther(realm.prefix + next_path)


async def sign_out(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther(request.app[pages.REALM_KEY].prefix + "/sign-in")
    await sign_out_session(request, response)
    raise response
