"""Request ids, access logs, metrics and the problem+json error boundary."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from shared.http.problem import PROBLEM_CONTENT_TYPE, Problem, problem_of
from shared.logs import request_id_var
from shared.metrics import HttpMetrics
from shared.refusals import Refusal

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


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY, "")


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
PRIVATE_PATH_PARAMETERS = frozenset({"learner_key"})


def loggable_path(request: web.Request, route: str) -> str:
    return request.path if PRIVATE_PATH_PARAMETERS.isdisjoint(request.match_info) else route


def make_observability_middleware(metrics: HttpMetrics):
    @web.middleware
    async def observability(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
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
    except (Problem, Refusal) as refused:
        problem = problem_of(refused) if isinstance(refused, Refusal) else refused
        log.info("rejected", extra={"status": problem.status, "problem": problem.slug,
                                    "detail": problem.detail})
        return problem_response(problem, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug, title = _HTTP_ERROR_SLUGS.get(exc.status, ("http-error", exc.reason))
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        log.info("rejected", extra={"status": exc.status, "problem": slug})
        return problem_response(Problem(exc.status, slug, title, detail), request)
    except Exception:
        # The one place an unexpected error is logged with its traceback; the
        # client gets the request id to quote, never the trace.
        log.exception("unhandled error")
        return problem_response(
            Problem(500, "internal-error", "Internal server error",
                    "The error was logged; quote the request id when reporting it."),
            request,
        )
