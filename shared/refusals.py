"""Why the platform says no: the one vocabulary of domain refusals.

Domain code (the registry's rules, issuance eligibility, status changes,
stacking) raises these and knows nothing of HTTP; every entry point maps
them to its own answer: the HTTP layer to an RFC 9457 problem with a status
from one table (shared/http/problem.py), a batch to a per-item outcome, the
Kafka intake to an outcome record, the CLI to a message. Each refusal is
raised before anything is written.

A refusal has a kind (what sort of no), a `code` for machines (stable,
kebab-case: `issuer-not-accredited`), a `title` that stays the same for a
code and a `detail` that says, for a person, what exactly was refused and
how to put it right.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class RefusalRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A refusal as data: what a per-item outcome carries and a stored reply keeps."""

    kind: str
    code: str
    title: str
    detail: str = ""
    extra: dict[str, Any] = {}

    def refusal(self) -> Refusal:
        return KINDS[self.kind](self.detail, code=self.code, title=self.title, extra=self.extra)


class Refusal(Exception):
    kind: ClassVar[str]
    default_code: ClassVar[str]
    default_title: ClassVar[str]

    def __init__(self, detail: str, *, code: str = "", title: str = "",
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.title = title or self.default_title
        self.extra = extra or {}

    def record(self) -> RefusalRecord:
        return RefusalRecord(kind=self.kind, code=self.code, title=self.title, detail=self.detail,
                             extra=self.extra)

    def again(self) -> Refusal:
        """A fresh exception with the same content: re-raising one object would
        grow its traceback with every item of a 10,000-item batch."""
        return type(self)(self.detail, code=self.code, title=self.title, extra=self.extra)


class NotFound(Refusal):
    """The thing named does not exist (or is not the caller's to know of)."""

    kind = "not_found"
    default_code = "not-found"
    default_title = "Not found"


class Forbidden(Refusal):
    """The caller may not do this to this thing: another tenant's, outside its scope."""

    kind = "forbidden"
    default_code = "forbidden"
    default_title = "Not allowed"


class Conflict(Refusal):
    """The thing is not in a state that allows this (already approved, already
    revoked), or it changed while the request was being decided."""

    kind = "conflict"
    default_code = "conflict"
    default_title = "Conflict with the current state"


class Invalid(Refusal):
    """Well-formed, but the content breaks a rule (dates, levels, ids)."""

    kind = "invalid"
    default_code = "validation-failed"
    default_title = "The request failed validation"


class RateLimited(Refusal):
    """Too many of these from this caller (or for this address) just now."""

    kind = "rate_limited"
    default_code = "rate-limited"
    default_title = "Too many requests"


class Unavailable(Refusal):
    """Cannot be decided here now: not configured, or state not yet known."""

    kind = "unavailable"
    default_code = "unavailable"
    default_title = "Not available"


class Malformed(Refusal):
    """The request cannot be read as what it claims to be (not an id, not a list)."""

    kind = "malformed"
    default_code = "bad-request"
    default_title = "The request is malformed"


class TooLarge(Refusal):
    """More than the platform takes in one request."""

    kind = "too_large"
    default_code = "too-large"
    default_title = "The request is too large"


class Unauthenticated(Refusal):
    """Who is asking is unknown or not proven (no key, a bad signature)."""

    kind = "unauthenticated"
    default_code = "unauthorized"
    default_title = "Authentication required"


KINDS: dict[str, type[Refusal]] = {
    kind.kind: kind for kind in (NotFound, Forbidden, Conflict, Invalid, Unavailable, Malformed, TooLarge,
                                 Unauthenticated)
}
