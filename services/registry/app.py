"""The registry service's application factory and routes."""

from __future__ import annotations

from aiohttp import web

from shared.http.common_handlers import AUTH_CHECK, WHOAMI
from shared.service import create_service_app
from shared.settings import Settings

ENDPOINTS = [WHOAMI, AUTH_CHECK]


def create_app(settings: Settings) -> web.Application:
    return create_service_app(settings, "registry", ENDPOINTS)
