"""The issuance service's application factory and routes."""

from __future__ import annotations

from aiohttp import web

from services.issuance import credit_handlers, handlers, holder_handlers, stack_handlers, store
from services.issuance import credit_schemas as cs
from services.issuance.collector import tuned_collector
from services.issuance.context import CONTEXT_KEY, default_signing_processes, issuance_context
from services.issuance.endorsing import Endorsed, EndorseRequest
from services.issuance.lifecycle import IssuanceProjection
from services.issuance.schemas import (
    BatchRequest,
    BatchResponse,
    CredentialRequest,
    IssuedCredential,
    LearnerHash,
    LearnerHashRequest,
    LearnerPathways,
    SignedCredentialRequest,
    StackRequest,
    StackResponse,
)
from shared.credential_format import VC_MEDIA_TYPE
from shared.http.common_handlers import WHOAMI
from shared.http.endpoints import Endpoint
from shared.idempotency import purge_loop
from shared.ledger.delivery.projection import Projection
from shared.service import POOL_KEY, background_context, create_service_app, projection_context
from shared.settings import Settings

ISSUERS = frozenset({"issuer"})
TAGS = ("issuance",)
STACK_TAGS = ("stacking",)
CREDIT_TAGS = ("credit account",)
# 10,000 credentials with evidence and grades fit well within this.
BATCH_BODY_LIMIT = 64 * 1024 * 1024
PROJECTION_KEY = web.AppKey("issuance_projection", IssuanceProjection)

ENDPOINTS = [
    WHOAMI,
    Endpoint("POST", "/v1/credentials", handlers.issue_credential,
             "Issue one credential, signed with the issuer's hosted key (Idempotency-Key honoured)",
             body=CredentialRequest, response=IssuedCredential, status=201, roles=ISSUERS, tags=TAGS),
    Endpoint("POST", "/v1/credentials/batch", handlers.issue_batch,
             "Issue up to 10,000 credentials; each item is issued, existing or rejected on its own",
             body=BatchRequest, response=BatchResponse, roles=ISSUERS, tags=TAGS, body_limit=BATCH_BODY_LIMIT),
    Endpoint("POST", "/v1/credentials/signed", handlers.submit_signed,
             "Record a credential the issuer signed itself (eddsa-jcs-2022, one of its issuer_held keys)",
             body=SignedCredentialRequest, response=IssuedCredential, status=201, roles=ISSUERS, tags=TAGS),
    Endpoint("GET", "/v1/credentials/{credential_id}", handlers.get_credential,
             "The signed credential, for its issuer (API key) or its learner (?token=); ?format= for a download",
             produces=VC_MEDIA_TYPE, tags=TAGS,
             query={"token": "the learner link token",
                    "format": "absent: the credential inline; json (a .json file), jwt (VC-JOSE compact JWS),"
                              " png or svg (the badge image with the credential baked in)"}),
    Endpoint("POST", "/v1/learners/hash", handlers.learner_hash,
             "A fresh salt and identityHash for one issuer-signed credential, and the learner's key",
             body=LearnerHashRequest, response=LearnerHash, roles=ISSUERS, tags=TAGS),
    Endpoint("POST", "/v1/stacks", stack_handlers.claim_stack,
             "Claim a pathway's award for a learner from component credentials (issuer key or holder_token)",
             body=StackRequest, response=StackResponse, status=201, tags=STACK_TAGS),
    Endpoint("GET", "/v1/learners/{learner_key}/pathways", stack_handlers.learner_pathways,
             "For each of the issuer's pathways: the learner's components held, missing, and credits needed",
             response=LearnerPathways, roles=ISSUERS, tags=STACK_TAGS),
    Endpoint("POST", "/v1/credit-account", credit_handlers.read_account,
             "The learner's credit account across issuers (for the wallet: the learner link of any of its"
             " credentials proves the learner)", body=cs.LearnerProof, response=cs.CreditAccount, tags=CREDIT_TAGS),
    Endpoint("POST", "/v1/credit-grants", credit_handlers.share_account,
             "The learner authorises an issuer to read its credit account for a number of days",
             body=cs.ShareAccount, response=cs.AccountShared, status=201, tags=CREDIT_TAGS),
    Endpoint("POST", "/v1/credit-grants/{grant_id}/revoke", credit_handlers.revoke_share,
             "The learner withdraws an authorisation", body=cs.LearnerProof, status=204, tags=CREDIT_TAGS),
    Endpoint("GET", "/v1/credit-grants/{grant_id}/account", credit_handlers.granted_account,
             "A learner's credit account, for the issuer it authorised", response=cs.CreditAccount,
             roles=ISSUERS, tags=CREDIT_TAGS),
    Endpoint("POST", "/v1/endorsements", credit_handlers.endorse,
             "An endorser (an employer the registry lists) signs an OB 3.0 EndorsementCredential about a"
             " credential or a workplace-learning record", body=EndorseRequest, response=Endorsed, status=201,
             roles=frozenset({"employer"}), tags=("endorsements",)),
]


def _projection(app: web.Application) -> Projection:
    app[PROJECTION_KEY] = IssuanceProjection(app[CONTEXT_KEY])
    return app[PROJECTION_KEY]


def create_app(settings: Settings, *, signing_processes: int | None = None) -> web.Application:
    processes = default_signing_processes() if signing_processes is None else signing_processes
    app = create_service_app(settings, "issuance", ENDPOINTS, contexts=[
        issuance_context(processes),
        # No consumer group, on purpose: the registry state is in memory, so
        # every replica needs every event; and a group join takes seconds,
        # while an automatic award is due within one. The lifecycle tables'
        # progress row (locked per batch) lets exactly one replica apply each
        # event; the others find it applied and skip it.
        projection_context(_projection),
        background_context("idempotency-purge",
                           lambda app: purge_loop(app[POOL_KEY], store.QUERIES["purge_idempotency_keys"]),
                           affects_readiness=False),
        tuned_collector,
    ])
    holder_handlers.add_routes(app)
    return app
