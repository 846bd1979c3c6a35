"""Reading request bodies into msgspec Structs, with limits and clear errors."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from aiohttp import web

from shared.http.problem import Problem, bad_request, validation_failed

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


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing early (413) once it exceeds `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(raw: bytes, model: type[T]) -> T:
    if not raw:
        raise bad_request("the request body is empty; a JSON document is required")
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as exc:
        raise validation_failed(str(exc), errors=[{"detail": str(exc)}]) from None
    except msgspec.DecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from None


async def read_json(request: web.Request, model: type[T], limit: int) -> T:
    check_content_type(request)
    return decode_json(await read_limited(request, limit), model)


def json_response(value: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(value),
        content_type="application/json", headers=headers,
    )
