"""The revocation service's application factory and routes."""

from __future__ import annotations

from aiohttp import web

from services.revocation import handlers
from services.revocation.history import StatusHistory
from services.revocation.runtime import contexts
from services.revocation.schemas import (
    MAX_BATCH_ITEMS,
    BatchRequest,
    BatchResult,
    StatusChanged,
    StatusChangeRequest,
    StatusListEntry,
)
from shared.credential_format import VC_MEDIA_TYPE
from shared.http.common_handlers import WHOAMI
from shared.http.endpoints import Endpoint
from shared.service import create_service_app
from shared.settings import Settings

MANAGERS = frozenset({"issuer", "agency_admin"})
TAGS = ("revocation",)
LIST_TAGS = ("status lists",)
# 10,000 items with reasons of a few hundred characters each.
BATCH_BODY_LIMIT = 8 * 1024 * 1024


def _status_change(verb: str, handler, summary: str) -> Endpoint:
    return Endpoint(
        "POST", f"/v1/credentials/{{id}}/{verb}", handler, summary,
        body=StatusChangeRequest, response=StatusChanged, roles=MANAGERS, tags=TAGS,
    )


ENDPOINTS = [
    WHOAMI,
    _status_change("revoke", handlers.revoke,
                   "Revoke a credential (final); 409 with the current status if it does not apply"),
    _status_change("suspend", handlers.suspend,
                   "Suspend an active or flagged credential; 409 with the current status otherwise"),
    _status_change("reinstate", handlers.reinstate,
                   "Reinstate a suspended or flagged credential; 409 with the current status otherwise"),
    Endpoint(
        "POST", "/v1/revocations/batch", handlers.batch,
        f"Revoke, suspend or reinstate up to {MAX_BATCH_ITEMS:,} credentials, with an outcome per item",
        body=BatchRequest, response=BatchResult, roles=MANAGERS, tags=TAGS, body_limit=BATCH_BODY_LIMIT,
    ),
    Endpoint(
        "GET", "/v1/credentials/{id}/status-history", handlers.credential_status_history,
        "Every status change of a credential, with time, actor, reason and cause, from the ledger"
        " (its issuer, accrediting agencies and their parents, or the holder with ?token=)",
        response=StatusHistory, tags=TAGS, query={"token": "the learner link token"},
    ),
    Endpoint(
        "GET", "/status-lists/{list_id}", handlers.status_list,
        "A published BitstringStatusListCredential (W3C Bitstring Status List v1.0), with ETag",
        produces=VC_MEDIA_TYPE, tags=LIST_TAGS,
    ),
    Endpoint(
        "GET", "/status-lists/{list_id}/entries/{index}", handlers.status_list_entry,
        "One entry of a published status list, as verifiers see it",
        response=StatusListEntry, tags=LIST_TAGS,
    ),
]


def create_app(settings: Settings) -> web.Application:
    return create_service_app(settings, "revocation", ENDPOINTS, contexts=contexts(settings))
