"""One public id, two representations: JSON(-LD) for machines, a plain HTML
page for people who open the id in a browser.

The page is server-rendered with no script and every value escaped: all of
it comes from issuers and agencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import msgspec
from aiohttp import web

LD_JSON = "application/ld+json"
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}"
    "main{max-width:42rem;margin:0 auto;padding:1rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}dt{color:#5b6475}dd{margin:0}"
    "ul{margin:0;padding-left:1.2rem}"
)
# A fact's value: one line, or a list shown as bullets.
Fact = tuple[str, str | Sequence[str]]


def _quality(entry: str) -> tuple[str, float]:
    media_type, *params = (part.strip() for part in entry.split(";"))
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return media_type.lower(), float(value)
            except ValueError:
                return media_type.lower(), 0.0
    return media_type.lower(), 1.0


def prefers_html(request: web.Request) -> bool:
    """True when the client ranks HTML above JSON: browsers send
    `text/html,...,*/*;q=0.8`; API clients send JSON types or `*/*`, which
    keep the machine representation."""
    html = other = 0.0
    for entry in request.headers.get("Accept", "").split(","):
        if not entry.strip():
            continue
        media_type, quality = _quality(entry)
        if media_type in _HTML_TYPES:
            html = max(html, quality)
        else:
            other = max(other, quality)
    return html > 0 and html > other


def document_response(document: object, media_type: str = LD_JSON, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON document under its own media type (aiohttp would add a charset
    parameter to a text body; JSON needs none)."""
    return web.Response(body=msgspec.json.encode(document), headers={
        "Content-Type": media_type, "Vary": "Accept", **(headers or {})})


def _value(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return escape(value)
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in value) + "</ul>" if value else "-"


def html_page(kind: str, title: str, facts: Sequence[Fact], machine_url: str, media_type: str = LD_JSON) -> web.Response:
    """`kind` heads the page (Achievement, Issuer, ...); `machine_url` is
    linked as the alternate representation of the same id."""
    rows = "".join(f"<dt>{escape(name)}</dt><dd>{_value(value)}</dd>" for name, value in facts)
    body = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title>"
        f"<link rel=\"alternate\" type=\"{escape(media_type)}\" href=\"{escape(machine_url)}\">"
        f"<style>{_STYLE}</style></head><body><main>"
        f"<p>{escape(kind)}</p><h1>{escape(title)}</h1><dl>{rows}</dl>"
        "</main></body></html>"
    )
    return web.Response(text=body, content_type="text/html", headers={"Vary": "Accept"})
