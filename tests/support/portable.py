"""Credentials of every shape the platform issues, issued over HTTP by the
issuance service (real Postgres and broker), for the portability tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.issuance.app import create_app
from tests.support.http import bearer, serving
from tests.support.issuance import item, registry_caught_up, university
from tests.support.world import Issuer

SCHEMA = Path(__file__).resolve().parents[1] / "vectors" / "openbadges" / "schema" / "achievementcredential.json"
# Every optional EU element and Open Badges field the documents can carry.
RICH_SPEC = dict(prerequisites=["Basic Python"], identity_check="photo id at the exam",
                 grading_scheme="A-F letter grades", image="https://uni-1.example/badge.png",
                 achievement_type="Short Course", validity_days=365)


async def issue_every_shape(db, settings) -> tuple[Issuer, list[dict[str, Any]]]:
    """A plain credential, and one with a grade, evidence and an expiry, as fetched by their holders."""
    world, issuer, plain = await university(db, settings)
    rich = await world.achievement(issuer, **RICH_SPEC)
    items = [item("P-1", plain, email="ada@example.org"),
             item("R-1", rich, email="grace@example.org", issued_on="2026-06-30", grade="A", evidence=[
                 {"url": "https://uni-1.example/portfolio/1", "narrative": "Six months of workplace learning",
                  "genre": "workplace learning"}])]
    documents = []
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        response = await client.post("/v1/credentials/batch", headers=bearer(issuer.api_key), json={"items": items})
        assert response.status == 200, await response.text()
        for outcome in (await response.json())["items"]:
            assert outcome["outcome"] == "issued", outcome
            fetched = await client.get(f"/v1/credentials/{outcome['credential_id']}",
                                       params={"token": outcome["holder_token"]})
            documents.append(json.loads(await fetched.read()))
    return issuer, documents
