"""Helpers for the registry's integration tests.

Everything here goes through the registry's real HTTP API: `Demo` sets up
an agency, an accredited issuer with a hosted key and approved achievements
the way an agency would, and `refused` checks that a request is turned down
with a problem+json body and that the ledger did not move.

The rule tests share one registry server and database per test module
(the `registry` and `registry_db` fixtures in tests/integration/conftest.py): the broker holds a new consumer group's join
for about five seconds, and an app cannot shut down during it, so a server
per test would cost that much each. Tests of a module keep apart by using
their own jurisdiction (one root agency each).
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from shared.events import CATALOG
from shared.http.problem import PROBLEM_CONTENT_TYPE
from shared.ledger.eventstore.store import Ledger
from shared.registry_state import RegistryState
from shared.settings import Settings, load_settings
from tests.conftest import BOOTSTRAP_ADMIN_KEY, app_url
from tests.support.http import bearer
from tests.support.ledger import ledger_head

PLATFORM = BOOTSTRAP_ADMIN_KEY


def test_settings(database_url: str, kafka_bootstrap: str) -> Settings:
    """The same settings as the `settings` fixture (the app role; the owner
    for migrations), for another database given by its owner URL."""
    return load_settings(
        environ={}, database_url=app_url(database_url), migration_database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}", kafka_partitions=3,
        bootstrap_admin_key=BOOTSTRAP_ADMIN_KEY, environment="test", max_body_bytes=64 * 1024,
        log_format="text", log_signing_key=base64.b64encode(os.urandom(32)).decode(),
        master_key=base64.b64encode(os.urandom(32)).decode(),
    )


test_settings.__test__ = False  # a helper, not a test


def spec(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Data Analysis with Python", "description": "Analyse tabular data with pandas.",
        "criteria": "Pass a supervised practical assessment.", "country": "IE",
        "learning_outcomes": ["Clean a dataset", "Summarise data with group-by operations"],
        "workload": {"ects": 5.0, "hours": 125.0}, "eqf_level": 6, "field": "0613",
        "assessment_type": "supervised practical exam", "participation_form": "online",
        "quality_assurance": "QQI institutional review",
        "skills": [{"uri": "http://data.europa.eu/esco/skill/abc", "name": "data analysis"}],
    }
    body.update(overrides)
    return body


async def call(client: TestClient, method: str, path: str, key: str | None = None,
               body: Any = None, status: int = 200) -> Any:
    headers = bearer(key) if key else {}
    response = await client.request(method, path, json=body, headers=headers)
    text = await response.text()
    assert response.status == status, f"{method} {path}: {response.status} {text}"
    return await response.json(content_type=None) if text else None


async def refused(client: TestClient, db: asyncpg.Pool, method: str, path: str, key: str | None,
                  body: Any, status: int, says: str = "") -> dict[str, Any]:
    """The request gets a problem+json `status` whose detail contains `says`,
    and the ledger head does not move."""
    before = await ledger_head(db)
    headers = bearer(key) if key else {}
    response = await client.request(method, path, json=body, headers=headers)
    text = await response.text()
    assert response.status == status, f"{method} {path}: {response.status} {text}"
    assert response.content_type == PROBLEM_CONTENT_TYPE, text
    problem = await response.json(content_type=None)
    assert says.lower() in problem["detail"].lower(), problem
    assert "Traceback" not in text
    assert await ledger_head(db) == before, "a refused request wrote to the ledger"
    return problem


async def registry_state(db: asyncpg.Pool) -> RegistryState:
    """What issuance and verification know: the state rebuilt from the ledger."""
    state = RegistryState()
    for recorded in await Ledger(db, CATALOG).read_from(0, 100_000):
        if recorded.event_type.startswith("registry."):
            state.apply(CATALOG.decode(recorded))
    return state


@dataclass
class Demo:
    """A root agency for `country`, one university it registered and
    accredited (EQF 5-7, ICT and business fields), an issuer API key and a
    hosted signing key; built step by step through the API."""

    client: TestClient
    country: str = "IE"
    agency_id: str = ""
    issuer_id: str = ""
    admin_key: str = ""
    issuer_key: str = ""
    accreditation_id: str = ""
    achievements: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.agency_id = self.agency_id or f"agency-{self.country.lower()}"
        self.issuer_id = self.issuer_id or f"uni-{self.country.lower()}"

    async def create_agency(self, levels: list[int] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"agency_id": self.agency_id, "name": f"{self.country} Qualifications Authority",
                                "jurisdiction": self.country}
        if levels is not None:
            body["scope"] = {"eqf_levels": levels}
        created = await call(self.client, "POST", "/v1/agencies", PLATFORM, body, 201)
        self.admin_key = created["admin_api_key"]
        return created

    async def register_issuer(self, issuer_id: str | None = None, country: str | None = None) -> dict[str, Any]:
        return await call(self.client, "POST", "/v1/issuers", self.admin_key, {
            "issuer_id": issuer_id or self.issuer_id, "legal_name": f"University {issuer_id or self.issuer_id}",
            "country": country or self.country, "homepage": "https://www.university.example",
            "email": "registry@university.example", "identifiers": [{"scheme": "erasmus", "value": "X-DUBLIN27"}],
        }, 201)

    async def accredit(self, levels: list[int] | None = None, issuer_id: str | None = None) -> dict[str, Any]:
        written = await call(self.client, "POST", "/v1/accreditations", self.admin_key, {
            "subject_kind": "issuer", "subject_id": issuer_id or self.issuer_id,
            "scope": {"eqf_levels": levels or [5, 6, 7], "fields": ["06", "0413"]},
        }, 201)
        self.accreditation_id = written["accreditation"]["accreditation_id"]
        return written

    async def issuer_client(self, issuer_id: str | None = None) -> str:
        created = await call(self.client, "POST", "/v1/clients", self.admin_key, {
            "role": "issuer", "tenant_id": issuer_id or self.issuer_id, "name": "student records system",
        }, 201)
        if issuer_id is None:
            self.issuer_key = created["api_key"]
        return created["api_key"]

    async def hosted_key(self) -> dict[str, Any]:
        return await call(self.client, "POST", f"/v1/issuers/{self.issuer_id}/keys", self.issuer_key,
                          {"custody": "hosted"}, 201)

    async def propose(self, key: str | None = None, **overrides: Any) -> str:
        written = await call(self.client, "POST", "/v1/achievements", key or self.issuer_key,
                             {"spec": spec(country=self.country, **overrides)}, 201)
        achievement_id = written["achievement"]["achievement_id"]
        self.achievements.append(achievement_id)
        return achievement_id

    async def approve(self, achievement_id: str) -> dict[str, Any]:
        return await call(self.client, "POST", f"/v1/achievements/{achievement_id}/approve", self.admin_key)

    async def build(self) -> Demo:
        """Agency, issuer, accreditation, issuer client, hosted key."""
        await self.create_agency()
        await self.register_issuer()
        await self.accredit()
        await self.issuer_client()
        await self.hosted_key()
        return self
