"""What the issuance domain code works with, gathered once per app."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.issuance.contacts import Contacts
from services.issuance.learners import LearnerSecrets
from services.issuance.signing import KeyRing, Signer
from shared.ledger.projection import ProjectionRunner
from shared.ledger.store import Ledger
from shared.registry_state import RegistryState

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
    # The service's projection runners (filled as they start): how far the
    # state above has applied the ledger (freshness.py).
    runners: list[ProjectionRunner]


CONTEXT_KEY = web.AppKey("issuance", IssuanceContext)
