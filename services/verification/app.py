"""The verification service's application factory and routes."""

from __future__ import annotations

import msgspec
from aiohttp import web

from services.verification import audit_handlers as audit
from services.verification import handlers
from services.verification.logtree import log_tree_ctx
from services.verification.projection import OPTIONS_KEY, ReadModelOptions, read_model_ctx
from services.verification.runtime import jobs_ctx
from services.verification.schemas import ItemResult, JobCreated, JobProgress, VerificationRequest, VerificationResponse
from services.verification.sharing import PROJECTION_NAME as SHARING_PROJECTION
from services.verification.sharing import SharingProjection
from shared.http.common_handlers import WHOAMI
from shared.http.endpoints import Endpoint
from shared.ledger.transparency.audit import AuditResult
from shared.service import OPENAPI_KEY, POOL_KEY, create_service_app, projection_context
from shared.settings import Settings
from shared.web.public import PublicPages, Site

AUDITORS = frozenset({"auditor", "agency_admin"})
EMPLOYERS = frozenset({"employer"})
TAGS = ("audit",)
VERIFY_TAGS = ("verification",)
VERIFY_PATH = "/v1/verifications"

ENDPOINTS = [
    WHOAMI,
    Endpoint(
        "POST", "/v1/audit/verify", audit.audit_verify,
        "Recompute the ledger's hash chain and report the first broken position",
        body=audit.AuditVerifyRequest, response=AuditResult, roles=AUDITORS, tags=TAGS,
    ),
    Endpoint("GET", "/v1/audit/checkpoint", audit.latest_checkpoint,
             "The latest signed checkpoint (C2SP tlog-checkpoint note)", produces="text/plain", tags=TAGS),
    Endpoint("GET", "/v1/audit/checkpoints/{size}", audit.checkpoint_at,
             "The signed checkpoint of one tree size", produces="text/plain", tags=TAGS),
    Endpoint("GET", "/v1/audit/log-keys", audit.log_keys,
             "Every key that has signed checkpoints (C2SP vkey format)", response=audit.LogKeys, tags=TAGS),
    Endpoint("GET", "/v1/audit/entries/{position}", audit.ledger_entry,
             "One ledger entry's v2 leaf, leaf hash and chain hashes; registry events also in the clear",
             response=audit.LedgerEntry, tags=TAGS),
    Endpoint("GET", "/v1/audit/proofs/inclusion", audit.inclusion_proof,
             "RFC 9162 inclusion proof of a position in a tree size",
             response=audit.InclusionProof, tags=TAGS,
             query={"position": "ledger position (1-based)", "tree_size": "default: the current size"}),
    Endpoint("GET", "/v1/audit/proofs/consistency", audit.consistency_proof,
             "RFC 9162 consistency proof between two tree sizes",
             response=audit.ConsistencyProof, tags=TAGS,
             query={"first": "the older tree size", "second": "default: the current size"}),
    Endpoint("GET", "/v1/audit/proofs/tlog/{position}", audit.tlog_proof,
             "C2SP tlog-proof bundle for one position", produces="text/plain", tags=TAGS),
    # The body is read by the handler (a malformed item must not fail the
    # others); its schema is documented below from VerificationRequest.
    Endpoint("POST", VERIFY_PATH, handlers.verify_items,
             "Verify up to 10,000 credentials (ids, full documents or VC-JOSE JWTs): a verdict, "
             "the checks and a summary per item, in order",
             response=VerificationResponse, roles=EMPLOYERS, tags=VERIFY_TAGS),
    Endpoint("POST", "/v1/verification-jobs", handlers.create_job,
             "Start a bulk job: an application/x-ndjson body of items or a text/csv body "
             "(columns id|credential_id|jwt|credential, email, national_id; header optional), "
             "up to 1,000,000 lines", response=JobCreated, status=202, roles=EMPLOYERS, tags=VERIFY_TAGS),
    Endpoint("GET", "/v1/verification-jobs/{job_id}", handlers.job_progress,
             "A job's progress: done/total, rate and ETA", response=JobProgress, roles=EMPLOYERS, tags=VERIFY_TAGS),
    Endpoint("GET", "/v1/verification-jobs/{job_id}/results", handlers.job_results,
             "A job's answers so far, streamed as NDJSON (ItemResult per line) or CSV",
             produces="application/x-ndjson", roles=EMPLOYERS, tags=VERIFY_TAGS,
             query={"format": "ndjson (default) or csv; or send Accept: text/csv"}),
    Endpoint("GET", "/v1/credentials/{credential_id}/verification", handlers.credential_verification,
             "Public: the verdict for one credential", response=ItemResult, tags=VERIFY_TAGS),
    Endpoint("GET", "/verify/", handlers.verify_home,
             "Public: a form that opens a credential's badge page (?id= redirects to it)", produces="text/html",
             tags=VERIFY_TAGS),
    # Registered before the page: "static" is no credential id.
    Endpoint("GET", "/verify/static/{name}", handlers.page_asset,
             "Public: the badge page's bundled stylesheet and script", produces="text/css", tags=VERIFY_TAGS),
    Endpoint("GET", "/verify/{credential_id}", handlers.verification_page,
             "Public: the page a badge link opens (HTML; social-preview tags and JSON-LD; works without "
             "JavaScript)", produces="text/html", tags=VERIFY_TAGS),
    Endpoint("GET", "/verify/{credential_id}/s/{share_token}", handlers.shared_page,
             "Public: the badge page through the holder's share link (with grade and evidence); 404 once the "
             "link is revoked or expired", produces="text/html", tags=VERIFY_TAGS),
    Endpoint("GET", "/verify/{credential_id}/s/{share_token}/badge.png", handlers.shared_badge_png,
             "Public: the badge image through a share link", produces="image/png", tags=VERIFY_TAGS),
    Endpoint("GET", "/verify/{credential_id}/badge.png", handlers.badge_png,
             "Public: the credential's badge image (the achievement's uploaded one, else a generated PNG)",
             produces="image/png", tags=VERIFY_TAGS),
]


def _document_request_body(app: web.Application) -> None:
    schemas, components = msgspec.json.schema_components(
        [VerificationRequest], ref_template="#/components/schemas/{name}")
    spec = app[OPENAPI_KEY]
    spec["components"]["schemas"].update(components)
    spec["paths"][VERIFY_PATH]["post"]["requestBody"] = {
        "required": True, "content": {"application/json": {"schema": schemas[0]}}}


def create_app(settings: Settings, options: ReadModelOptions | None = None) -> web.Application:
    sharing = projection_context(lambda app: SharingProjection(app[POOL_KEY]), group_id=SHARING_PROJECTION)
    app = create_service_app(settings, "verification", ENDPOINTS,
                             contexts=[log_tree_ctx, read_model_ctx, sharing, jobs_ctx])
    app[OPTIONS_KEY] = options or ReadModelOptions()
    app[handlers.PAGES_KEY] = PublicPages("services.verification", "/verify", Site("Credential check", "/verify/"))
    _document_request_body(app)
    return app
