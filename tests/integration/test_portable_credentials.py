"""Credentials issued by the running system travel: they pass the Open Badges
3.0 JSON Schema with zero errors, expand strictly under the contexts they
name, carry a proof set whose two proofs both verify with independent
implementations (and both fail on a tampered copy), and name the platform's
context at a URL the public origin serves."""

from __future__ import annotations

import copy
import hashlib
import json

import jsonschema

from services.registry.app import create_app as registry_app
from shared.crypto.eddsa_jcs import raw_public_key
from shared.jsonld.contexts import PLATFORM_CONTEXT_PATH
from tests.support import independent_rdfc
from tests.support.http import serving
from tests.support.portable import SCHEMA, issue_every_shape
from tests.unit.test_jsonld_contexts import PLATFORM_CONTEXT_V1_SHA256


async def test_issued_credentials_pass_the_open_badges_schema_and_expand_strictly(settings, db):
    _, documents = await issue_every_shape(db, settings)
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    for document in documents:
        assert [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)] == []
        assert isinstance(document["proof"], list) and isinstance(document["credentialStatus"], dict)
        assert independent_rdfc.dropped_terms(document) == []
    rich = documents[1]["credentialSubject"]["achievement"]
    assert rich["euStandardElements"]["prerequisites"] == ["Basic Python"] and "validUntil" in documents[1]


async def test_both_proofs_verify_independently_and_a_tampered_copy_fails_both(settings, db):
    issuer, documents = await issue_every_shape(db, settings)
    public_key = raw_public_key(issuer.private_key)
    for document in documents:
        assert independent_rdfc.verify_proof_set(document, public_key) == {
            "eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}
        other_learner = copy.deepcopy(document)
        other_learner["credentialSubject"]["identifier"][0]["identityHash"] = "sha256$" + "0" * 64
        for tampered in ({**document, "validFrom": "2020-01-01T00:00:00Z"}, other_learner):
            assert independent_rdfc.verify_proof_set(tampered, public_key) == {
                "eddsa-rdfc-2022": False, "eddsa-jcs-2022": False}


async def test_the_context_every_credential_names_is_served_on_the_public_origin(settings, db):
    _, documents = await issue_every_shape(db, settings)
    context_url = settings.public_base_url.rstrip("/") + PLATFORM_CONTEXT_PATH
    assert all(document["@context"][-1] == context_url for document in documents)
    async with serving(registry_app, settings) as registry:
        response = await registry.get(PLATFORM_CONTEXT_PATH)
        body = await response.read()
        assert response.status == 200 and response.content_type == "application/ld+json"
        assert hashlib.sha256(body).hexdigest() == PLATFORM_CONTEXT_V1_SHA256
        assert "immutable" in response.headers["Cache-Control"]
        assert json.loads(body)["@context"]["euStandardElements"]["@id"].startswith("https://")
        missing = await registry.get("/contexts/credledger/v2.jsonld")
        assert missing.status == 404
