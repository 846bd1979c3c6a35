"""The issuance service's application factory and routes."""

from __future__ import annotations

from aiohttp import web

from shared.http.common_handlers import WHOAMI
from shared.service import create_service_app
from shared.settings import Settings

ENDPOINTS = [WHOAMI]


def create_app(settings: Settings) -> web.Application:
    return create_service_app(settings, "issuance", ENDPOINTS)
