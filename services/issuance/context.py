"""What the issuance domain code works with, gathered once per app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import get_args

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.issuance.contacts import Contacts
from services.issuance.document import Templates
from services.issuance.learners import LearnerSecrets, learner_keys
from services.issuance.schemas import Outcome
from services.issuance.signing import KeyRing, PreEncodedCatalog, Signer
from shared.events import CATALOG
from shared.key_vault import KeyVault
from shared.ledger.delivery.projection import ProjectionRunner
from shared.ledger.eventstore.store import Ledger
from shared.registry_state import RegistryState
from shared.service import METRICS_REGISTRY_KEY, POOL_KEY, RUNNERS_KEY, SETTINGS_KEY, CleanupContext

STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class IssuanceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.credentials = Counter(
            "issuance_credentials", "Credentials by signing mode and outcome", ["mode", "outcome"],
            registry=registry,
        )
        # Where a bulk request's time goes: screen, allocate, sign, persist.
        self.stage = Histogram(
            "issuance_stage_seconds", "Time per stage of an issuance request", ["stage"],
            buckets=STAGE_BUCKETS, registry=registry,
        )
        # Bound once: labels() takes a lock and a dict lookup, on every request otherwise.
        self.screen, self.sign, self.persist = (self.stage.labels(s) for s in ("screen", "sign", "persist"))
        self.hosted = {outcome: self.credentials.labels("hosted", outcome) for outcome in get_args(Outcome)}


@dataclass(frozen=True)
class IssuanceContext:
    pool: asyncpg.Pool
    ledger: Ledger
    state: RegistryState
    keyring: KeyRing
    signer: Signer
    secrets: LearnerSecrets
    contacts: Contacts
    public_base_url: str
    metrics: IssuanceMetrics
    templates: Templates
    # The service's projection runners (filled as they start): how far the
    # state above has applied the ledger (freshness.py).
    runners: list[ProjectionRunner]


CONTEXT_KEY = web.AppKey("issuance", IssuanceContext)


def default_signing_processes() -> int:
    # One core signs fine inline; with more, signing moves off the event loop's core.
    cores = os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


def issuance_context(signing_processes: int) -> CleanupContext:
    async def open_context(app: web.Application) -> AsyncIterator[None]:
        settings, pool = app[SETTINGS_KEY], app[POOL_KEY]
        signer = Signer(pool, settings.database_url, signing_processes,
                        jcs_only=settings.credential_proofs == "jcs-only")
        state = RegistryState()
        app[CONTEXT_KEY] = IssuanceContext(
            pool=pool, ledger=Ledger(pool, PreEncodedCatalog(CATALOG)), state=state,
            keyring=KeyRing(pool, KeyVault(settings.master_key)), signer=signer,
            secrets=LearnerSecrets(settings.master_key, learner_keys(settings)),
            contacts=Contacts(settings.master_key),
            public_base_url=settings.public_base_url,
            metrics=IssuanceMetrics(app[METRICS_REGISTRY_KEY]), templates=Templates(state, settings.public_base_url),
            runners=app[RUNNERS_KEY],
        )
        yield
        signer.close()

    return open_context
