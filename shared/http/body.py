"""Reading request bodies into msgspec Structs, with limits and clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import msgspec
from aiohttp import web

from shared import untrusted
from shared.http.problem import Problem, bad_request

T = TypeVar("T")
JSON_TYPES = ("application/json",)


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload-too-large", "The request body is too large",
                   f"the limit for this endpoint is {limit} bytes")


def check_content_type(request: web.Request, accepted: tuple[str, ...] = JSON_TYPES) -> None:
    if request.content_type not in accepted and not (
        "application/json" in accepted and request.content_type.endswith("+json")
    ):
        raise Problem(
            415, "unsupported-media-type", "Unsupported media type",
            f"send the body as {' or '.join(accepted)}, not {request.content_type or 'nothing'}",
        )
    if (request.charset or "utf-8").lower() != "utf-8":
        # Every body is UTF-8 (JSON by RFC 8259; the jobs' NDJSON and CSV by
        # this API): read as another charset, the same bytes would mean
        # different text here and in the ledger.
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      f"send the body as UTF-8, not charset={request.charset}")


async def limited_chunks(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    """The body as it streams in, refusing (413) once it exceeds `limit` bytes:
    the service's own bound, whatever a proxy in front of it allows."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        yield chunk


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing early (413) once it exceeds `limit` bytes."""
    length = request.content_length
    if length is not None and length <= limit:
        # The HTTP parser hands over no more than the declared length, so the
        # body is read whole, without the chunk loop's generator (most
        # bodies are one small chunk; that loop was ~2 % of a small request).
        return await request.content.read()
    return b"".join([chunk async for chunk in limited_chunks(request, limit)])


def decode_json(raw: bytes, model: type[T]) -> T:
    """`raw` as `model`; refusals raise `UntrustedInput`, which the error
    middleware answers as a 400/422 problem naming the field."""
    if not raw:
        raise bad_request("the request body is empty; a JSON document is required")
    return untrusted.decode_json(raw, model)


async def read_json(request: web.Request, model: type[T], limit: int) -> T:
    check_content_type(request)
    return decode_json(await read_limited(request, limit), model)


def json_response(value: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(value),
        content_type="application/json", headers=headers,
    )
