"""The HTTP side of `shared.untrusted`: a request's headers, path and query
string are checked before any handler runs, and integer parameters are read
through one range-checked helper.

aiohttp hands over what it could not decode rather than refusing it: header
bytes that are not UTF-8 arrive as lone surrogates (which `str.encode()`
then refuses deep inside a handler), `%00` in a path or query arrives as a
NUL, and a query value that is not UTF-8 arrives with U+FFFD in its place.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from aiohttp import web

from shared import untrusted
from shared.untrusted import UntrustedInput

# Ledger positions, tree sizes and cursors are Postgres bigints.
MAX_POSITION = 2**63 - 1


def check_request(request: web.Request) -> None:
    """Refuse (400) a request whose headers, path or query string are not clean text."""
    try:
        _check_text_parts(request)
    except UntrustedInput as exc:
        # Bytes that are not clean text make the request itself malformed.
        raise UntrustedInput(exc.field, exc.reason) from None


def _check_text_parts(request: web.Request) -> None:
    for name, value in request.headers.items():
        _clean(value, f"header {name}")
    _clean(request.path, "path")
    # The raw form: `query_string` is already decoded once, so checking it
    # would decode `%2500` (the text "%00") into a NUL.
    for pair in request.rel_url.raw_query_string.split("&"):
        name, _, value = pair.partition("=")
        field = f"query parameter {_readable(name)}"
        untrusted.text(unquote_to_bytes(name.replace("+", " ")), field)
        untrusted.text(unquote_to_bytes(value.replace("+", " ")), field)


def _clean(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UntrustedInput(field, f"is not valid UTF-8 (character {exc.start})") from None
    untrusted.without_nul(value, field)


def _readable(name: str) -> str:
    # A field name quoted back in a problem must itself be printable text.
    decoded = unquote_to_bytes(name).decode("utf-8", "replace").replace("\x00", "\ufffd")
    return repr(decoded[:64])


def int_param(request: web.Request, name: str, *, low: int = 0, high: int = MAX_POSITION,
              default: int | None = None) -> int:
    """An integer from the path or the query string, within [low, high]."""
    raw = request.match_info.get(name)
    where = "path parameter"
    if raw is None:
        raw, where = request.query.get(name), "query parameter"
    if raw is None:
        if default is None:
            raise UntrustedInput(f"query parameter {name}", "is required")
        return default
    try:
        return untrusted.bounded_int(raw, f"{where} {name}", low=low, high=high)
    except UntrustedInput as exc:
        # A parameter that is no such number makes the URL itself wrong.
        raise UntrustedInput(exc.field, exc.reason) from None
