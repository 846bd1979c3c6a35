"""Identity per Open Badges 3.0: a fresh salt in every credential, learners
matched inside the platform by a keyed learner key that is never published."""

from __future__ import annotations

import base64
import json
import os

import msgspec

from services.issuance.app import create_app
from shared.credential_format import identity_hash
from shared.events import registry as ev
from tests.support.http import bearer, serving
from tests.support.issuance import add_pathway, item, registry_caught_up, university

EMAIL = "Ada.Lovelace@example.org"


async def issued(client, issuer, achievement_id, reference):
    response = await client.post("/v1/credentials", headers=bearer(issuer.api_key),
                                 json=item(reference, achievement_id, email=EMAIL))
    assert response.status == 201, await response.text()
    body = await response.json()
    fetched = await client.get(f"/v1/credentials/{body['credential_id']}", params={"token": body["holder_token"]})
    return body, json.loads(await fetched.read())


def identity_of(document):
    [identity] = document["credentialSubject"]["identifier"]
    return identity


async def test_one_learner_is_unlinkable_in_public_yet_stacks_across_issuers(settings, db):
    world, uni_1, module_a = await university(db, settings, title="Module A")
    uni_2 = await world.issuer("uni-2")
    module_b = await world.achievement(uni_2, title="Module B")
    module_a2 = await world.achievement(uni_1, title="Module A, second sitting")
    award = await world.achievement(uni_1, title="Joint Certificate", achievement_type="Certificate")
    await add_pathway(world, uni_1, "joint", award, ev.PathwayRule(
        required=[module_a, module_b], allow_other_issuers=True))
    async with serving(create_app, settings) as client:
        await registry_caught_up(client, db)
        same_issuer = [await issued(client, uni_1, module_a, "A-1"), await issued(client, uni_1, module_a2, "A-2")]
        other_issuer = await issued(client, uni_2, module_b, "B-1")
        credentials = [*same_issuer, other_issuer]

        identities = [identity_of(document) for _, document in credentials]
        assert len({i["salt"] for i in identities}) == 3 and len({i["identityHash"] for i in identities}) == 3
        for identity in identities:  # each still the OB 3.0 hash of the learner with its own salt
            assert identity["identityHash"] == identity_hash("emailAddress", EMAIL.lower(), identity["salt"])
        keys = {body["learner_key"] for body, _ in credentials}
        [learner_key] = keys
        for _, document in credentials:
            assert learner_key not in json.dumps(document) and learner_key.split("$")[2] not in json.dumps(document)
        payloads = await db.fetch("SELECT convert_from(payload, 'UTF8') AS text FROM ledger.events")
        assert not any(learner_key.split("$")[2] in row["text"] for row in payloads)

        progress = await (await client.get(f"/v1/learners/{learner_key}/pathways",
                                           headers=bearer(uni_1.api_key))).json()
        [joint] = progress["pathways"]
        assert joint["eligible"] and set(joint["held"]) == {module_a, module_b}
        components = [same_issuer[0][0]["credential_id"], other_issuer[0]["credential_id"]]
        claim = await client.post("/v1/stacks", headers=bearer(uni_1.api_key),
                                  json={"pathway_id": "joint", "component_ids": components})
        assert claim.status == 201, await claim.text()
        stack = await claim.json()
        award_document = json.loads(await (await client.get(
            f"/v1/credentials/{stack['award_credential_id']}", params={"token": stack["holder_token"]})).read())
        assert learner_key.split("$")[2] not in json.dumps(award_document)
        # The award repeats the pathway issuer's own component's IdentityObject.
        assert identity_of(award_document) == identity_of(same_issuer[0][1])


async def test_a_new_learner_key_secret_re_keys_a_learner_at_the_next_issuance(settings, db):
    world, uni_1, module_a = await university(db, settings, title="Module A")
    module_b = await world.achievement(uni_1, title="Module B")
    award = await world.achievement(uni_1, title="Certificate", achievement_type="Certificate")
    await add_pathway(world, uni_1, "cert", award, ev.PathwayRule(required=[module_a, module_b]))
    old_secret, new_secret = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    before = msgspec.structs.replace(settings, learner_key_secret=old_secret)
    after = msgspec.structs.replace(settings, learner_key_secret=new_secret, learner_key_previous_secrets=old_secret)
    async with serving(create_app, before) as client:
        await registry_caught_up(client, db)
        first, _ = await issued(client, uni_1, module_a, "A-1")
    async with serving(create_app, after) as client:
        await registry_caught_up(client, db)
        second, _ = await issued(client, uni_1, module_b, "B-1")
        assert second["learner_key"] != first["learner_key"]
        assert second["learner_key"].split("$")[1] != first["learner_key"].split("$")[1]  # another key id
        keys = await db.fetch("SELECT DISTINCT learner_key FROM issuance.credentials")
        assert [row["learner_key"] for row in keys] == [second["learner_key"]]  # the old row re-keyed
        progress = await (await client.get(f"/v1/learners/{second['learner_key']}/pathways",
                                           headers=bearer(uni_1.api_key))).json()
        assert progress["pathways"][0]["eligible"]
