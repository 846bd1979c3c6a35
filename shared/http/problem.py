"""RFC 9457 problem details: the one error shape for every 4xx and 5xx.

Handlers and domain code raise `Problem` (or a subclass); the error middleware
renders it. Nothing else ever becomes a client-visible error body, so no stack
trace or driver message can leak.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from shared.refusals import Refusal, RefusalRecord
from shared.untrusted import UntrustedInput

PROBLEM_CONTENT_TYPE = "application/problem+json"
# msgspec's validation errors end with where they happened: "... - at `$.a[0]`".
_LOCATED = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
PROBLEM_TYPE_BASE = "https://credledger.dev/problems/"


class ProblemDocument(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    request_id: str = ""
    errors: list[dict[str, Any]] = []


class Problem(Exception):
    """An error a client caused or must be told about, with an RFC 9457 body."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {slug}: {detail or title}")
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}

    def to_document(self, request_id: str = "", instance: str = "") -> dict[str, Any]:
        doc: dict[str, Any] = msgspec.to_builtins(
            ProblemDocument(
                type=PROBLEM_TYPE_BASE + self.slug,
                title=self.title,
                status=self.status,
                detail=self.detail,
                instance=instance,
                request_id=request_id,
                errors=self.errors,
            )
        )
        doc.update(self.extra)
        return doc


def bad_request(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    return Problem(400, "bad-request", "The request is malformed", detail, errors=errors)


def validation_failed(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    return Problem(422, "validation-failed", "The request failed validation", detail, errors=errors)


def refused_input(exc: UntrustedInput) -> Problem:
    """The one answer to outside input refused before use: 400 when it cannot
    be read at all, 422 when it reads but a value is unacceptable. The field
    is named as precisely as the decoder located it (`body.scope.eqf_levels[0]`)."""
    field, reason = exc.field, exc.reason
    if located := _LOCATED.match(reason):
        reason, field = located["reason"], field + located["path"]
    error = {"field": field, "detail": reason}
    detail = f"{field}: {reason}"
    return bad_request(detail, [error]) if exc.malformed else validation_failed(detail, [error])


def unavailable(detail: str, retry_after: int = 1) -> Problem:
    return Problem(503, "service-unavailable", "Service temporarily unavailable", detail,
                   headers={"Retry-After": str(retry_after)})


def unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="credledger"'},
    )


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Not allowed", detail)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(409, "conflict", "Conflict with the current state", detail, extra=extra)


# The one table from domain refusals (shared/refusals.py) to HTTP statuses,
# with the headers a status asks for.
STATUS_OF_REFUSAL = {
    "malformed": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "invalid": 422,
    "rate_limited": 429,
    "unavailable": 503,
}
HEADERS_OF_REFUSAL = {
    "unauthenticated": {"WWW-Authenticate": 'Bearer realm="credledger"'},
    "unavailable": {"Retry-After": "1"},
}


def problem_of(refusal: Refusal | RefusalRecord) -> Problem:
    return Problem(STATUS_OF_REFUSAL[refusal.kind], refusal.code, refusal.title, refusal.detail,
                   headers=HEADERS_OF_REFUSAL.get(refusal.kind), extra=refusal.extra)


class ItemProblem(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Why one item of a batch was refused (RFC 9457 fields, per item)."""

    type: str
    title: str
    status: int
    detail: str
    current_status: str | None = None

    @classmethod
    def of(cls, refusal: Refusal | RefusalRecord) -> ItemProblem:
        """The per-item form of a refusal: the same type, title and status the
        refusal would get as a whole answer."""
        return cls(type=PROBLEM_TYPE_BASE + refusal.code, title=refusal.title,
                   status=STATUS_OF_REFUSAL[refusal.kind], detail=refusal.detail,
                   current_status=refusal.extra.get("current_status"))
