"""The employer portal for tests: the real verification service on a real
socket and the portal pointed at it, and a signed-in HTTP client."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
from aiohttp.test_utils import TestClient

from services.employer.app import create_app as employer_app
from services.verification.app import create_app as verification_app
from services.verification.projection import ReadModelOptions
from shared.settings import Settings
from tests.support.credentials_for_verification import serving_ready
from tests.support.http import serving

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
verification_factory = functools.partial(verification_app, options=ReadModelOptions(idle_check_interval=0.2))


@dataclass
class Stack:
    verification: TestClient
    settings: Settings


@contextlib.asynccontextmanager
async def verification_for_portal(settings: Settings) -> AsyncIterator[Stack]:
    async with serving_ready(verification_factory, settings) as verification:
        portal_settings = msgspec.structs.replace(settings, verification_port=verification.port)
        yield Stack(verification, portal_settings)


@contextlib.asynccontextmanager
async def portal(settings: Settings) -> AsyncIterator[TestClient]:
    """A portal client (its own cookie jar), for a stack already running."""
    async with serving(employer_app, settings) as client:
        yield client


async def csrf_token(client: TestClient, path: str = "/employer/sign-in") -> str:
    page = await (await client.get(path, headers={"Accept": "text/html"})).text()
    found = CSRF.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


async def sign_in_with_key(client: TestClient, api_key: str, email: str) -> None:
    token = await csrf_token(client)
    response = await client.post("/employer/sign-in/key", data={"csrf_token": token, "api_key": api_key,
                                                                "email": email}, allow_redirects=False)
    assert response.status == 303, await response.text()
