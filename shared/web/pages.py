"""Server-rendered pages for a service: one sub-application per realm.

`create_pages_app(parent, settings, realm)` returns an aiohttp sub-app with
Jinja2 templates (autoescaped; the realm's own templates first, then the
shared layout in shared/web/templates), the bundled static files under
`<prefix>/static/`, the security middlewares (shared/web/security.py),
HTML error pages for browsers (problem+json for everyone else), and the
emailed sign-in routes. The service adds its own routes, then mounts it
with `parent.add_subapp(realm.prefix, sub)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from shared.background import BackgroundLoop, running
from shared.http.middleware import Handler
from shared.http.problem import Problem, problem_of
from shared.lifecycle import sleep_or_stop
from shared.mail import Mailer, mailer
from shared.refusals import Refusal
from shared.service import POOL_KEY
from shared.settings import Settings
from shared.web import sign_in_routes
from shared.web.security import (
    COOKIE_KEY,
    SESSION_KEY,
    STORE_KEY,
    CookiePolicy,
    current_session,
    security_headers,
    sessions,
)
from shared.web.sessions import Sealer, SessionStore
from shared.web.sign_in import SignInLinks

JINJA_KEY = web.AppKey("web_jinja", jinja2.Environment)
REALM_KEY: web.AppKey[Realm] = web.AppKey("web_realm")
LINKS_KEY = web.AppKey("web_sign_in_links", SignInLinks)
MAILER_KEY = web.AppKey("web_mailer", Mailer)
STATIC_KEY = web.AppKey("web_static", dict)
TASKS_KEY: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("web_mail_tasks")
SETTINGS_KEY = web.AppKey("web_settings", Settings)
PURGE_SECONDS = 3600.0


async def anyone(app: web.Application, address: str) -> bool:
    return True


@dataclass(frozen=True)
class Realm:
    name: str  # the session realm and cookie name: "wallet", "employer"
    prefix: str  # where it is mounted: "/wallet"
    title: str  # the site name in the header and the mails
    template_package: str  # a package with a templates/ (and optionally static/) folder
    # Whether a sign-in link is mailed to this address (the answer is the same either way).
    may_sign_in: Callable[[web.Application, str], Awaitable[bool]] = anyone
    nav: tuple[tuple[str, str], ...] = ()  # (label, path under the prefix) for signed-in visitors
    home: str = "/"
    # The origin links in mails point at (default: settings.public_base_url).
    base_url: str = ""

    def url(self, settings: Settings, path: str) -> str:
        return f"{(self.base_url or settings.public_base_url).rstrip('/')}{self.prefix}{path}"


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def _static_files(packages: tuple[str, ...]) -> dict[str, StaticFile]:
    files: dict[str, StaticFile] = {}
    for package in packages:
        folder = resources.files(package).joinpath("static")
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_file() and not entry.name.startswith("."):
                body = entry.read_bytes()
                kind = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
                files.setdefault(entry.name, StaticFile(body, kind, hashlib.sha256(body).hexdigest()[:16]))
    return files


async def static_file(request: web.Request) -> web.Response:
    found = request.app[STATIC_KEY].get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    headers = {"ETag": f'"{found.etag}"', "Cache-Control": "public, max-age=86400"}
    if request.headers.get("If-None-Match") == f'"{found.etag}"':
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if found.content_type.startswith("text/") or found.content_type.endswith("javascript") else None
    return web.Response(body=found.body, content_type=found.content_type, charset=charset, headers=headers)


def static_url(app: web.Application, name: str) -> str:
    found = app[STATIC_KEY][name]
    return f"{app[REALM_KEY].prefix}/static/{name}?v={found.etag[:8]}"


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


async def render(request: web.Request, template: str, context: Mapping[str, Any] | None = None,
                 status: int = 200) -> web.Response:
    """A page, with the layout's context: realm, session, CSRF token, static URLs."""
    session = await current_session(request)
    app = request.app
    page = {
        "realm": app[REALM_KEY], "signed_in": session.signed_in, "csrf_token": session.csrf_token,
        "static": lambda name: static_url(app, name), "url": lambda path: app[REALM_KEY].prefix + path,
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, page, status=status, app_key=JINJA_KEY)
    response.charset = "utf-8"
    return response


@web.middleware
async def html_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers get an HTML page for a refusal; API clients the problem+json."""
    try:
        return await handler(request)
    except (Problem, Refusal, web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        if not wants_html(request):
            raise
        if isinstance(exc, Refusal):
            exc = problem_of(exc)
        if isinstance(exc, web.HTTPException):
            exc = Problem(exc.status, "not-found", "Page not found", "There is no page at this address.")
        return await render(request, "error.html", {"problem": exc}, status=exc.status)


def signed_in_subject(request: web.Request) -> str:
    """The signed-in subject; a visitor who is not signed in goes to the sign-in page."""
    session = request.get(SESSION_KEY)
    if session is None or session.subject is None:
        raise web.HTTPSeeOther(request.app[REALM_KEY].prefix + "/sign-in")
    subject: str = session.subject
    return subject


async def issue_sign_in_link(app: web.Application, subject: str, next_path: str = "",
                             max_age_seconds: int | None = None) -> str:
    """A one-time sign-in URL (for a claim email, say); next_path is under the prefix."""
    token = await app[LINKS_KEY].issue(subject, next_path, max_age_seconds)
    url: str = app[REALM_KEY].url(app[SETTINGS_KEY], f"/sign-in/{token}")
    return url


def _pages_context(
    parent: web.Application, settings: Settings, realm: Realm,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def open_pages(app: web.Application) -> AsyncIterator[None]:
        pool = parent[POOL_KEY]
        sealer = Sealer(settings.master_key, realm.name)
        app[STORE_KEY] = SessionStore(pool, realm.name, sealer, settings.session_max_age_seconds)
        app[LINKS_KEY] = SignInLinks(pool, realm.name, sealer, settings.sign_in_link_max_age_seconds)
        app[MAILER_KEY] = mailer(settings)
        app[TASKS_KEY] = set()
        links = app[LINKS_KEY]

        async def purge(stop: asyncio.Event) -> None:
            # Expired sessions, used links and old rate-limit rows (any realm's).
            while not stop.is_set():
                await links.purge()
                await sleep_or_stop(stop, PURGE_SECONDS)

        async with running(BackgroundLoop(f"web_purge:{realm.name}", purge, affects_readiness=False)):
            yield
        pending: set[asyncio.Task[None]] = app[TASKS_KEY]
        if pending:
            await asyncio.wait(pending, timeout=10)

    return open_pages


def create_pages_app(parent: web.Application, settings: Settings, realm: Realm) -> web.Application:
    app = web.Application(middlewares=[security_headers, sessions, html_errors])
    app[REALM_KEY] = realm
    app[SETTINGS_KEY] = settings
    app[COOKIE_KEY] = CookiePolicy(f"credledger_{realm.name}", realm.prefix,
                                   settings.public_base_url.startswith("https://"), settings.session_max_age_seconds)
    app[STATIC_KEY] = _static_files((realm.template_package, "shared.web"))
    app[JINJA_KEY] = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(realm.template_package, "templates"),
                                    jinja2.PackageLoader("shared.web", "templates")]),
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    app.cleanup_ctx.append(_pages_context(parent, settings, realm))
    app.router.add_get("/static/{name}", static_file)
    sign_in_routes.add(app)
    return app
