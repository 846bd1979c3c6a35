"""The verification service's API, as the portal uses it: with the
employer's own API key, over HTTP, so the portal sees exactly what an
employer's script would (and the verification service stays the only
place verdicts come from).

Uploads are streamed (the body is an async iterator), results are read
line by line: a 100,000-row file never sits in the portal's memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec

from services.verification.schemas import ItemResult, JobCreated, JobProgress, VerificationItem
from shared.auth import Principal
from shared.refusals import Invalid, Refusal


class VerificationUnavailable(Refusal):
    """The verification service could not be reached or refused to answer."""

    kind = "unavailable"
    default_code = "verification-unavailable"
    default_title = "Verification is not available right now"


class _Items(msgspec.Struct):
    items: list[VerificationItem]


class _Answer(msgspec.Struct):
    checked_at: str
    results: list[ItemResult]


class _Problem(msgspec.Struct):
    title: str = ""
    detail: str = ""


_RESULT = msgspec.json.Decoder(ItemResult)


class VerificationClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    async def whoami(self, api_key: str) -> Principal | None:
        """Who an API key is, or None when it is unknown or revoked."""
        async with self._request("GET", "/v1/whoami", api_key) as response:
            if response.status == 401:
                return None
            return msgspec.json.decode(await self._body(response), type=Principal)

    async def verify(self, api_key: str, item: VerificationItem) -> tuple[ItemResult, str]:
        body = msgspec.json.encode(_Items([item]))
        async with self._request("POST", "/v1/verifications", api_key, data=body,
                                 headers={"Content-Type": "application/json"}) as response:
            answer = msgspec.json.decode(await self._body(response), type=_Answer)
        return answer.results[0], answer.checked_at

    async def submit_job(self, api_key: str, body: AsyncIterator[bytes]) -> JobCreated:
        async with self._request("POST", "/v1/verification-jobs", api_key, data=body,
                                 headers={"Content-Type": "text/csv"}) as response:
            return msgspec.json.decode(await self._body(response), type=JobCreated)

    async def progress(self, api_key: str, job_id: str) -> JobProgress:
        async with self._request("GET", f"/v1/verification-jobs/{job_id}", api_key) as response:
            return msgspec.json.decode(await self._body(response), type=JobProgress)

    async def results(self, api_key: str, job_id: str) -> AsyncIterator[ItemResult]:
        async with self._request("GET", f"/v1/verification-jobs/{job_id}/results", api_key) as response:
            if response.status != 200:
                await self._body(response)
            async for line in response.content:
                if line.strip():
                    yield _RESULT.decode(line)

    @contextlib.asynccontextmanager
    async def _request(self, method: str, path: str, api_key: str,
                       **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        headers = {"Authorization": f"Bearer {api_key}", **kwargs.pop("headers", {})}
        try:
            async with self._session.request(method, self._base + path, headers=headers, **kwargs) as response:
                yield response
        except aiohttp.ClientError as exc:
            raise VerificationUnavailable(f"the verification service is unreachable: {exc!r}") from None

    @staticmethod
    async def _body(response: aiohttp.ClientResponse) -> bytes:
        body = await response.read()
        if response.status < 400:
            return body
        try:
            problem = msgspec.json.decode(body, type=_Problem)
        except msgspec.DecodeError:
            problem = _Problem(detail=body[:200].decode(errors="replace"))
        if response.status in (400, 413, 415, 422):
            raise Invalid(problem.detail or problem.title, code="verification-refused")
        raise VerificationUnavailable(
            f"the verification service answered {response.status}: {problem.detail or problem.title}")
