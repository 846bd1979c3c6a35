"""Request ids, access logs, metrics and the problem+json error boundary."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from shared.http.inputs import check_request
from shared.http.problem import PROBLEM_CONTENT_TYPE, Problem, problem_of, refused_input, unavailable
from shared.logs import request_id_var
from shared.metrics import HttpMetrics
from shared.refusals import Refusal
from shared.untrusted import UntrustedInput

log = logging.getLogger("credledger.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
REQUEST_ID_KEY = web.RequestKey("request_id", str)
CLIENT_ID_KEY = web.RequestKey("client_id", str)

# aiohttp's own HTTP errors (404 for unknown paths, 405, 413 from the body
# reader) mapped to problem slugs so they share the one error shape.
_HTTP_ERROR_SLUGS = {
    400: ("bad-request", "The request is malformed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


# Postgres is gone or refuses connections for now (down, restarting, the
# database closed to connections, out of connection slots): the client
# should retry, not report a bug. OSError covers refused connections and
# timeouts; asyncpg raises InternalClientError for a pooled connection whose
# server end was terminated mid-reset.
_DATABASE_UNAVAILABLE = (
    OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.TooManyConnectionsError,
    asyncpg.ObjectNotInPrerequisiteStateError, asyncpg.InternalClientError,
)


def request_id_of(request: web.Request) -> str:
    request_id: str = request.get(REQUEST_ID_KEY, "")
    return request_id


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def problem_response(problem: Problem, request: web.Request) -> web.Response:
    body = problem.to_document(request_id=request_id_of(request), instance=request.path)
    return web.Response(
        status=problem.status,
        body=msgspec.json.encode(body),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=problem.headers,
    )


# Path parameters that name a learner: their value never reaches a log line.
# Sign-in and share-link tokens are secrets: neither is ever logged.
PRIVATE_PATH_PARAMETERS = frozenset({"learner_key", "token", "share_token"})


def loggable_path(request: web.Request, route: str) -> str:
    return request.path if PRIVATE_PATH_PARAMETERS.isdisjoint(request.match_info) else route


def make_observability_middleware(metrics: HttpMetrics) -> Middleware:
    @web.middleware
    async def observability(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID (a quarter the cost).
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(16)
        request[REQUEST_ID_KEY] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(request)
            metrics.observe(request.method, route, status, elapsed)
            if route not in ("/metrics", "/healthz", "/readyz"):
                log.info("request", extra={
                    "method": request.method, "route": route, "path": loggable_path(request, route),
                    "status": status, "ms": round(elapsed * 1000, 2),
                    "client": request.get(CLIENT_ID_KEY, ""),
                })
            request_id_var.reset(token)

    return observability


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return _rejected(problem, request)
    except Refusal as refusal:
        return _rejected(problem_of(refusal), request)
    except UntrustedInput as exc:
        return _rejected(refused_input(exc), request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _rejected(_http_error_problem(exc), request)
    except _DATABASE_UNAVAILABLE as exc:
        log.warning("database unavailable", extra={"error": repr(exc)})
        return problem_response(unavailable("the database is unavailable; retry shortly", 2), request)
    except Exception:
        # The one place an unexpected error is logged with its traceback; the
        # client gets the request id to quote, never the trace.
        log.exception("unhandled error")
        return problem_response(
            Problem(500, "internal-error", "Internal server error",
                    "The error was logged; quote the request id when reporting it."),
            request,
        )


@web.middleware
async def clean_input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers, path and query string are checked before any handler sees them."""
    check_request(request)
    return await handler(request)


def _rejected(problem: Problem, request: web.Request) -> web.Response:
    log.info("rejected", extra={"status": problem.status, "problem": problem.slug, "detail": problem.detail})
    return problem_response(problem, request)


def _http_error_problem(exc: web.HTTPException) -> Problem:
    slug, title = _HTTP_ERROR_SLUGS.get(exc.status, ("http-error", exc.reason))
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        detail = detail or f"this resource allows {headers['Allow']}"
    return Problem(exc.status, slug, title, detail, headers=headers)
