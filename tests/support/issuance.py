"""Helpers shared by the issuance service's integration tests (no tests here).

The registry world comes from tests/support/world.py (ledger events, as the
registry writes them); what it lacks for issuance (issuer-held keys,
pathways) is appended here the same way.
"""

from __future__ import annotations

from typing import Any, TypeVar

import asyncpg
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.issuance.app import PROJECTION_KEY
from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.multibase import public_key_to_multibase
from shared.events import registry as ev
from shared.settings import Settings
from tests.support.ledger import ledger_head
from tests.support.waiting import eventually
from tests.support.world import EPOCH, Issuer, World

T = TypeVar("T")


async def issuance_rows(db: asyncpg.Pool) -> int:
    return await db.fetchval("SELECT count(*) FROM issuance.credentials")


async def registry_caught_up(client: TestClient, db: asyncpg.Pool) -> None:
    """Wait until the service's in-memory registry state has every ledger event."""
    head = await ledger_head(db)
    projection = client.app[PROJECTION_KEY]

    async def reached() -> bool | None:
        return True if projection.position >= head else None

    await eventually(reached)


async def lifecycle_caught_up(db: asyncpg.Pool) -> None:
    """Wait until the service's durable lifecycle projection has every ledger event."""
    head = await ledger_head(db)

    async def reached() -> bool | None:
        position = await db.fetchval(
            "SELECT position FROM ledger.projection_progress WHERE projection = 'issuance.lifecycle'")
        return True if (position or 0) >= head else None

    await eventually(reached)


async def university(
    db: asyncpg.Pool, settings: Settings, issuer_id: str = "uni-1", **spec: Any,
) -> tuple[World, Issuer, str]:
    """An agency, an accredited issuer with a hosted key and one approved achievement."""
    world = World(db, settings)
    await world.agency()
    issuer = await world.issuer(issuer_id)
    achievement_id = await world.achievement(issuer, **spec)
    return world, issuer, achievement_id


def item(reference: str, achievement_id: str, email: str | None = "ada@example.org", **fields: Any) -> dict[str, Any]:
    learner = {"email": email} if email is not None else fields.pop("learner")
    return {"reference": reference, "achievement_id": achievement_id, "learner": learner, **fields}


async def add_issuer_held_key(
    world: World, issuer: Issuer, key_id: str, valid_from: str = EPOCH, valid_until: str | None = None,
) -> Ed25519PrivateKey:
    private_key = Ed25519PrivateKey.generate()
    await world._append(f"issuer:{issuer.issuer_id}", ev.IssuerKeyAdded(
        issuer_id=issuer.issuer_id, key_id=key_id,
        public_key_multibase=public_key_to_multibase(raw_public_key(private_key)),
        custody="issuer_held", valid_from=valid_from, valid_until=valid_until))
    return private_key


async def add_pathway(world: World, issuer: Issuer, pathway_id: str, award_achievement_id: str,
                      rule: ev.PathwayRule) -> str:
    await world._append(
        f"pathway:{pathway_id}",
        ev.PathwayProposed(pathway_id=pathway_id, issuer_id=issuer.issuer_id, title=f"Pathway {pathway_id}",
                           award_achievement_id=award_achievement_id, rule=rule),
        ev.PathwayApproved(pathway_id=pathway_id, agency_id="qqi", at=EPOCH),
    )
    return pathway_id
