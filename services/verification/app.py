"""The verification service's application factory and routes."""

from __future__ import annotations

from aiohttp import web

from services.verification import audit_handlers as audit
from services.verification.logtree import log_tree_ctx
from shared.http.common_handlers import WHOAMI
from shared.http.endpoints import Endpoint
from shared.ledger.audit import AuditResult
from shared.service import create_service_app
from shared.settings import Settings

AUDITORS = frozenset({"auditor", "agency_admin"})
TAGS = ("audit",)

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
             "One ledger entry's exact bytes, leaf hash and chain hashes",
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
]


def create_app(settings: Settings) -> web.Application:
    return create_service_app(settings, "verification", ENDPOINTS, contexts=[log_tree_ctx])
