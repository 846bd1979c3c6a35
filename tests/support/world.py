"""Build a registry world for tests of services other than the registry:
agencies, accredited issuers with hosted keys, approved achievements and
API clients, written the way the registry writes them (ledger events, plus
its table projection and the sealed hosted key), without its HTTP API."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass, field

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.registry.issuers import store_hosted_key
from services.registry.projection import RegistryTablesProjection
from shared.auth import hash_api_key
from shared.credential_format import issuer_did
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_seed
from shared.crypto.multibase import public_key_to_multibase
from shared.events import CATALOG
from shared.events import registry as ev
from shared.key_vault import KeyVault
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import Ledger, NewEvent
from shared.settings import Settings

ADMIN = Metadata(actor="test-world", tenant="platform")
EPOCH = "2020-01-01T00:00:00Z"


def sample_spec(**overrides: object) -> ev.AchievementSpec:
    fields: dict[str, object] = dict(
        title="Data Analysis with Python", description="Analyse tabular data with pandas.",
        criteria="Pass a supervised practical assessment.", country="IE",
        learning_outcomes=["Clean a dataset", "Summarise data with group-by operations"],
        workload=ev.Workload(ects=5.0, hours=125.0), eqf_level=6, field="0613",
        assessment_type="supervised practical exam", participation_form="online",
        quality_assurance="QQI institutional review", skills=[ev.Skill(uri="http://data.europa.eu/esco/skill/abc", name="data analysis")],
    )
    fields.update(overrides)
    return ev.AchievementSpec(**fields)  # type: ignore[arg-type]


@dataclass
class Issuer:
    issuer_id: str
    did: str
    key_id: str
    private_key: Ed25519PrivateKey
    api_key: str
    achievements: list[str] = field(default_factory=list)


class World:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.ledger = Ledger(pool, CATALOG)
        self.vault = KeyVault(settings.master_key)

    async def _append(self, stream: str, *events: ev.Event) -> None:
        await self.ledger.append([NewEvent(stream, e) for e in events], ADMIN)
        await RegistryTablesProjection(self.pool).apply(await self.ledger.read_from(0, 100_000))

    async def agency(self, agency_id: str = "qqi", jurisdiction: str = "IE") -> str:
        await self._append(f"agency:{agency_id}", ev.AgencyCreated(
            agency_id=agency_id, name=f"Agency {agency_id}", jurisdiction=jurisdiction,
            scope=ev.AccreditationScope(eqf_levels=list(range(1, 9)))))
        return agency_id

    async def client(self, role: str, tenant_id: str) -> str:
        client_id = f"client-{uuid.uuid4().hex[:8]}"
        key = f"clk_{secrets.token_urlsafe(24)}"
        await self._append(
            f"client:{client_id}",
            ev.ApiClientCreated(client_id=client_id, tenant_id=tenant_id, role=role, name=client_id),  # type: ignore[arg-type]
            ev.ApiKeyIssued(client_id=client_id, key_id=f"key-{client_id}", key_hash=hash_api_key(key).hex()),
        )
        return key

    async def issuer(self, issuer_id: str = "uni-1", agency_id: str = "qqi", *, eqf_levels: list[int] | None = None,
                     country: str = "IE", accredited: bool = True) -> Issuer:
        did = issuer_did(self.settings.public_base_url, issuer_id)
        seed = os.urandom(32)
        private_key = signing_key_from_seed(seed)
        key_id = "key-1"
        async with self.pool.acquire() as conn:
            await store_hosted_key(conn, self.vault, issuer_id, key_id, seed)
        await self._append(
            f"issuer:{issuer_id}",
            ev.IssuerRegistered(issuer_id=issuer_id, registered_by=agency_id, legal_name=f"University {issuer_id}",
                                country=country, did=did, homepage=f"https://{issuer_id}.example"),
            ev.IssuerKeyAdded(issuer_id=issuer_id, key_id=key_id,
                              public_key_multibase=public_key_to_multibase(raw_public_key(private_key)),
                              custody="hosted", valid_from=EPOCH),
        )
        if accredited:
            await self._accredit(issuer_id, agency_id, eqf_levels)
        api_key = await self.client("issuer", issuer_id)
        return Issuer(issuer_id, did, key_id, private_key, api_key)

    async def _accredit(self, issuer_id: str, agency_id: str, eqf_levels: list[int] | None) -> None:
        await self._append(f"accreditation:acc-{issuer_id}", ev.AccreditationGranted(
            accreditation_id=f"acc-{issuer_id}", accreditor_id=agency_id, subject_kind="issuer",
            subject_id=issuer_id, scope=ev.AccreditationScope(eqf_levels=eqf_levels or list(range(1, 9))),
            valid_from=EPOCH))

    async def achievement(self, issuer: Issuer, agency_id: str = "qqi", **spec: object) -> str:
        achievement_id = f"ach-{uuid.uuid4().hex[:8]}"
        await self._append(
            f"achievement:{achievement_id}",
            ev.AchievementProposed(achievement_id=achievement_id, issuer_id=issuer.issuer_id, spec=sample_spec(**spec)),
            ev.AchievementApproved(achievement_id=achievement_id, agency_id=agency_id, at=EPOCH),
        )
        issuer.achievements.append(achievement_id)
        return achievement_id
