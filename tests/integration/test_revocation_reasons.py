"""Free-text status reasons stay with those entitled: the issuer, the
agencies that accredit it and the agencies above them, and the holder with
the learner link token. Everyone else finds no such credential."""

from __future__ import annotations

import pytest

from shared.events import registry as ev
from tests.integration.test_revocation_api import action, expect_problem, head, issue
from tests.support.http import bearer
from tests.support.revocation import revocation_service
from tests.support.world import World

HOLDER_TOKEN = "holder-link-token-for-this-test-0123456789"
FREE_TEXT = "Academic misconduct: plagiarism in the final project"


@pytest.fixture
async def world(db, settings):
    world = World(db, settings)
    await world.agency("qqi")
    await world._append("agency:qqi-north", ev.AgencyCreated(
        agency_id="qqi-north", name="QQI North", jurisdiction="IE", parent_agency_id="qqi",
        scope=ev.AccreditationScope(eqf_levels=list(range(1, 9)))))
    await world.agency("other-agency", "FR")
    return world


async def test_the_status_history_reasons_are_for_the_issuer_its_agencies_and_the_holder(settings, db, world):
    issuer = await world.issuer("uni-1", "qqi-north")
    other_issuer = await world.issuer("uni-2", "other-agency")
    [credential] = await issue(world, issuer, holder_token=HOLDER_TOKEN)
    keys = {
        "issuer": issuer.api_key,
        "accrediting agency": await world.client("agency_admin", "qqi-north"),
        "its parent agency": await world.client("agency_admin", "qqi"),
    }
    strangers = {
        "another issuer": other_issuer.api_key,
        "an unrelated agency": await world.client("agency_admin", "other-agency"),
        "an employer": await world.client("employer", "acme"),
        "an auditor": await world.client("auditor", "qqi-north"),
    }
    path = f"/v1/credentials/{credential.credential_id}/status-history"
    async with revocation_service(settings) as client:
        revoked = await action(client, credential.credential_id, "revoke", issuer.api_key,
                               {"reason_code": "misconduct", "reason": FREE_TEXT})
        assert revoked.status == 200, await revoked.text()
        for who, key in keys.items():
            response = await client.get(path, headers=bearer(key))
            assert response.status == 200, (who, await response.text())
            assert (await response.json())["entries"][-1]["reason"] == FREE_TEXT, who
        by_holder = await client.get(path, params={"token": HOLDER_TOKEN})
        assert by_holder.status == 200 and FREE_TEXT in await by_holder.text()

        before = await head(db)
        for who, key in strangers.items():
            problem = await expect_problem(await client.get(path, headers=bearer(key)), 404)
            assert FREE_TEXT not in str(problem), who
        await expect_problem(await client.get(path, params={"token": HOLDER_TOKEN + "x"}), 404)
        await expect_problem(await client.get(path), 401)
        assert await head(db) == before
