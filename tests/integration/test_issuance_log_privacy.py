"""No learner identity in any log line: issuing, rejecting and looking up
learners with known identities, then searching every captured log line of
the service (as its JSON formatter writes it) for them."""

from __future__ import annotations

import logging

from services.issuance.app import create_app
from shared.logs import JsonFormatter
from tests.support.http import bearer, serving
from tests.support.issuance import item, registry_caught_up, university

EMAIL = "secret.learner.4711@example.org"
BAD_EMAIL = "secret learner 4712@nowhere"
NATIONAL_ID = "9988776SL"
BAD_NATIONAL_ID = "99;DROP-4713"


async def test_issued_rejected_and_looked_up_learners_appear_in_no_log_line(settings, db, caplog):
    caplog.set_level(logging.DEBUG)
    world, issuer, achievement_id = await university(db, settings)
    key = bearer(issuer.api_key)
    secrets = ["secret.learner", "secret learner", "4711", "4712", NATIONAL_ID.lower(), NATIONAL_ID, "4713"]
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        issued = await client.post("/v1/credentials", headers=key, json=item("R-1", achievement_id, email=EMAIL))
        assert issued.status == 201, await issued.text()
        body = await issued.json()
        rejected = await client.post("/v1/credentials", headers=key, json=item("R-2", achievement_id, email=BAD_EMAIL))
        assert rejected.status == 422
        batch = await client.post("/v1/credentials/batch", headers=key, json={"items": [
            item("R-3", achievement_id, email=None, learner={"national_id": NATIONAL_ID}),
            item("R-4", achievement_id, email=None, learner={"national_id": BAD_NATIONAL_ID}),
            item("R-5", achievement_id, email=BAD_EMAIL),
        ]})
        outcomes = (await batch.json())["items"]
        assert [o["outcome"] for o in outcomes] == ["issued", "rejected", "rejected"]
        hashed = await (await client.post("/v1/learners/hash", headers=key,
                                          json={"learner": {"email": EMAIL}})).json()
        assert (await client.post("/v1/learners/hash", headers=key,
                                  json={"learner": {"email": BAD_EMAIL}})).status == 422
        assert (await client.get(f"/v1/learners/{body['learner_key']}/pathways", headers=key)).status == 200
        fetched = await client.get(f"/v1/credentials/{body['credential_id']}", params={"token": body["holder_token"]})
        assert fetched.status == 200
        assert (await client.get(f"/v1/credentials/{body['credential_id']}",
                                 params={"token": body["holder_token"] + "x"})).status == 404

    for answer in (body, outcomes[0], hashed):
        secrets += [answer["learner_hash"].removeprefix("sha256$"), answer["learner_key"].split("$")[2]]
    secrets += [hashed["salt"], body["holder_token"], outcomes[0]["holder_token"]]
    formatter = JsonFormatter("issuance")
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"rejected"' in line or "rejected" in line for line in lines)  # the rejections were logged
    leaks = [(secret, line) for line in lines for secret in secrets if secret.lower() in line.lower()]
    assert not leaks
