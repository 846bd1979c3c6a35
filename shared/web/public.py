"""Public pages: the shared layout and bundled assets without sessions.

A badge page is opened by anyone, mostly once, often by link unfurlers:
it needs the layout, the stylesheet and the Content-Security-Policy of the
signed-in pages (pages.py), but no session, no CSRF token and no sign-in
routes (a session per view would be a database write per anonymous hit).
`PublicPages` renders templates of a package (then shared/web's) with the
same Jinja2 settings and serves the same bundled files under `<prefix>/static/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web

from shared.web.pages import StaticFile, _static_files
from shared.web.security import SECURITY_HEADERS


@dataclass(frozen=True)
class Site:
    """What the layout (base.html) shows of a public site."""

    title: str
    home: str
    nav: tuple[tuple[str, str], ...] = ()


class PublicPages:
    def __init__(self, template_package: str, prefix: str, site: Site) -> None:
        self.prefix = prefix
        self.site = site
        self.static = _static_files((template_package, "shared.web"))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.PackageLoader(template_package, "templates"),
                                        jinja2.PackageLoader("shared.web", "templates")]),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )

    def static_url(self, name: str) -> str:
        return f"{self.prefix}/static/{name}?v={self.static[name].etag[:8]}"

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        page = {"realm": self.site, "signed_in": False, "csrf_token": "", "static": self.static_url,
                "url": lambda path: path, **context}
        return self.env.get_template(template).render(page)

    def response(self, template: str, context: Mapping[str, Any], status: int = 200,
                 cache: str = "no-store") -> web.Response:
        return web.Response(text=self.render(template, context), status=status, content_type="text/html",
                            charset="utf-8", headers={**SECURITY_HEADERS, "Cache-Control": cache})

    async def static_file(self, request: web.Request) -> web.Response:
        found: StaticFile | None = self.static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        headers = {"ETag": f'"{found.etag}"', "Cache-Control": "public, max-age=86400",
                   "X-Content-Type-Options": "nosniff"}
        if request.headers.get("If-None-Match") == f'"{found.etag}"':
            return web.Response(status=304, headers=headers)
        text = found.content_type.startswith("text/") or found.content_type.endswith("javascript")
        return web.Response(body=found.body, content_type=found.content_type, charset="utf-8" if text else None,
                            headers=headers)
