"""Two universities in two jurisdictions for the recognition tests: an Irish
one (agency QQI) with a module and a pathway, and a Malaysian one (agency
MQA, its MQF framework) with a micro-credential at MQF level 6. The base
world is written as the registry writes it (tests/support/world.py); the
referencing and the agreements go through the registry's HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from shared.events import registry as ev
from shared.settings import Settings
from tests.support.http import bearer
from tests.support.issuance import add_pathway
from tests.support.world import Issuer, World

MQF_LEVELS = ["MQF-4", "MQF-5", "MQF-6", "MQF-7", "MQF-8"]


@dataclass
class TwoCountries:
    world: World
    ie: Issuer
    my: Issuer
    qqi_key: str
    mqa_key: str
    module: str  # uni-ie, 5 ECTS, EQF 6
    award: str  # uni-ie's award, 10 ECTS
    my_module: str  # uni-my, MQF-6, 120 hours


async def two_countries(db: asyncpg.Pool, settings: Settings) -> TwoCountries:
    world = World(db, settings)
    await world.agency("qqi", "IE")
    await world.agency("mqa", "MY")
    ie = await world.issuer("uni-ie", "qqi")
    my = await world.issuer("uni-my", "mqa", country="MY")
    await world._append("framework:mqf", ev.FrameworkPublished(
        framework_id="mqf", agency_id="mqa", name="Malaysian Qualifications Framework",
        credit_system="national_credits", hours_per_credit=40.0,
        levels=[ev.FrameworkLevel(code=code, title=f"MQF level {code[4:]}") for code in MQF_LEVELS]))
    module = await world.achievement(ie, title="Data Analysis with Python")
    award = await world.achievement(ie, title="Certificate in Data Science", achievement_type="Certificate",
                                    workload=ev.Workload(ects=10.0))
    my_module = await world.achievement(
        my, agency_id="mqa", title="Machine Learning Foundations", country="MY", framework_id="mqf",
        level_code="MQF-6", workload=ev.Workload(hours=120.0), quality_assurance="MQA programme accreditation")
    return TwoCountries(world, ie, my, await world.client("agency_admin", "qqi"),
                        await world.client("agency_admin", "mqa"), module, award, my_module)


async def pathway(w: TwoCountries, pathway_id: str, award: str | None = None, **rule: Any) -> str:
    """A uni-ie pathway: its module plus 5 more ECTS."""
    values: dict[str, Any] = {"required": [w.module], "min_credits": 10.0, **rule}
    return await add_pathway(w.world, w.ie, pathway_id, award or w.award, ev.PathwayRule(**values))


async def post(client: TestClient, path: str, key: str | None, body: Any, status: int) -> Any:
    response = await client.post(path, headers=bearer(key) if key else {}, json=body)
    text = await response.text()
    assert response.status == status, f"{path}: {response.status} {text}"
    return await response.json(content_type=None) if text else None


async def reference_mqf(registry: TestClient, w: TwoCountries) -> dict[str, Any]:
    mappings = [{"level_code": code, "target_level": code[4:]} for code in MQF_LEVELS]
    return await post(registry, "/v1/frameworks/mqf/referencing", w.mqa_key,
                      {"mappings": mappings, "report_url": "https://mqa.example/referencing"}, 201)


def level_six_match(**overrides: Any) -> dict[str, Any]:
    return {"levels": ["6"], "fields": ["06"], "min_hours": 100.0, "accredited_by": ["mqa"], **overrides}


async def declare(registry: TestClient, w: TwoCountries, agreement_id: str, **fields: Any) -> dict[str, Any]:
    body = {"agreement_id": agreement_id, "title": "MQA level 6 computing modules", "match": level_six_match(),
            "credit_value": 5.0, **fields}
    return (await post(registry, "/v1/recognition-agreements", w.ie.api_key, body, 201))["agreement"]

