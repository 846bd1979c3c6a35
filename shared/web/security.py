"""The pages' security middlewares: headers (a strict CSP), sessions, CSRF.

Every page is served under a Content-Security-Policy that allows only this
origin's own files: no inline script or style, no framing, forms post only
here. The session cookie is HttpOnly, SameSite=Lax, Secure when the public
origin is https, and scoped to the realm's path. Every unsafe method must
carry the session's CSRF token (form field `csrf_token`, or the
`X-CSRF-Token` header for scripts); without it the answer is a 403 problem
and nothing runs.
"""

from __future__ import annotations

from aiohttp import MultipartReader, web

from shared.http.middleware import Handler
from shared.http.problem import Problem
from shared.web.sessions import Session, SessionStore, tokens_equal

CSP = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Sign-in links carry their token in the path: never send it onward.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = web.RequestKey("web_session", Session)
NEW_SESSION_KEY = web.RequestKey("web_new_session", Session)
STORE_KEY = web.AppKey("web_session_store", SessionStore)
COOKIE_KEY: web.AppKey[CookiePolicy] = web.AppKey("web_cookie")
# A multipart form's reader after its leading csrf_token field, for the handler.
MULTIPART_KEY = web.RequestKey("web_multipart_rest", MultipartReader)


class CookiePolicy:
    def __init__(self, name: str, path: str, secure: bool, max_age: int) -> None:
        self.name, self.path, self.secure, self.max_age = name, path, secure, max_age

    def set(self, response: web.StreamResponse, session_id: str) -> None:
        response.set_cookie(self.name, session_id, path=self.path, max_age=self.max_age, httponly=True,
                            secure=self.secure, samesite="Lax")

    def clear(self, response: web.StreamResponse) -> None:
        response.del_cookie(self.name, path=self.path)


def csrf_refused(detail: str) -> Problem:
    return Problem(403, "csrf-token-invalid", "The form's security token is missing or wrong", detail)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and aiohttp's errors get the headers too
        exc.headers.update(SECURITY_HEADERS)
        raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if SESSION_KEY in request or NEW_SESSION_KEY in request:
        # Personal pages: no shared cache keeps them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loads the session named by the cookie; sets the cookie of a new one."""
    store, cookie = request.app[STORE_KEY], request.app[COOKIE_KEY]
    session_id = request.cookies.get(cookie.name, "")
    session = await store.load(session_id) if 20 <= len(session_id) <= 100 else None
    if session is not None:
        request[SESSION_KEY] = session
    if request.method in UNSAFE_METHODS:
        await _check_csrf(request, session)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _set_cookie(request, exc, cookie)
        raise
    _set_cookie(request, response, cookie)
    return response


def _set_cookie(request: web.Request, response: web.StreamResponse, cookie: CookiePolicy) -> None:
    if NEW_SESSION_KEY in request:
        cookie.set(response, request[NEW_SESSION_KEY].session_id)


async def _check_csrf(request: web.Request, session: Session | None) -> None:
    if session is None:
        raise csrf_refused("the session expired or cookies are off; reload the page and try again")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # For multipart the token must come first, so reading it does not
        # read (into memory) an upload that follows it.
        given = await _form_token(request)
    if not given or not tokens_equal(given, session.csrf_token):
        raise csrf_refused("the form's security token does not match this session; reload the page")


async def _form_token(request: web.Request) -> str | None:
    if request.content_type == "application/x-www-form-urlencoded":
        value = (await request.post()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    reader = await request.multipart()
    part = await reader.next()
    if part is None or getattr(part, "name", None) != CSRF_FIELD:
        return None
    request[MULTIPART_KEY] = reader
    return (await part.read(decode=True)).decode("utf-8", "replace")  # type: ignore[union-attr]


async def current_session(request: web.Request) -> Session:
    """The visitor's session, created (anonymous) if it has none yet."""
    if SESSION_KEY in request:
        return request[SESSION_KEY]
    if NEW_SESSION_KEY not in request:
        request[NEW_SESSION_KEY] = await request.app[STORE_KEY].create()
    return request[NEW_SESSION_KEY]


async def sign_in_session(request: web.Request, subject: str) -> Session:
    """Replace whatever session there was with a signed-in one."""
    session = await request.app[STORE_KEY].replace(request.get(SESSION_KEY), subject)
    request[NEW_SESSION_KEY] = session
    request[SESSION_KEY] = session
    return session


async def sign_out_session(request: web.Request, response: web.StreamResponse) -> None:
    if SESSION_KEY in request:
        await request.app[STORE_KEY].end(request[SESSION_KEY].session_id)
    request.pop(NEW_SESSION_KEY, None)
    request.app[COOKIE_KEY].clear(response)
