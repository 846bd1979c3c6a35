"""The demo's recognition across borders (`credledger up --demo`): a second
university in Malaysia (agency MQA, the MQF referenced to the EQF) whose
micro-credential Demo University recognises toward a pathway, and an award
stacked from components of both, which verifies `valid`.

Seeded through the public HTTP APIs like the rest of the demo (credledger/demo.py).
"""

from __future__ import annotations

from typing import Any

from credledger.demo import Api, DemoError, spec, until_verdict

MQF_LEVELS = [f"MQF-{n}" for n in range(4, 9)]


async def _malaysia(api: Api, admin_key: str) -> dict[str, Any]:
    agency = await api.call("registry", "POST", "/v1/agencies", admin_key, {
        "name": "Demo Malaysian Qualifications Agency", "jurisdiction": "MY", "agency_id": "demo-mqa"})
    mqa_key = agency["admin_api_key"]
    await api.call("registry", "POST", "/v1/frameworks", mqa_key, {
        "framework_id": "demo-mqf", "name": "Malaysian Qualifications Framework (demo)",
        "credit_system": "national_credits", "hours_per_credit": 40.0,
        "levels": [{"code": code, "title": f"MQF level {code[4:]}"} for code in MQF_LEVELS]})
    referencing = await api.call("registry", "POST", "/v1/frameworks/demo-mqf/referencing", mqa_key, {
        "mappings": [{"level_code": code, "target_level": code[4:]} for code in MQF_LEVELS],
        "report_url": "https://mqa.example/mqf-eqf-referencing"})
    await api.call("registry", "POST", "/v1/issuers", mqa_key, {
        "legal_name": "Demo University Malaysia", "country": "MY", "issuer_id": "demo-university-my",
        "homepage": "https://university-my.example", "email": "registrar@university-my.example"})
    await api.call("registry", "POST", "/v1/accreditations", mqa_key, {
        "subject_kind": "issuer", "subject_id": "demo-university-my", "scope": {"eqf_levels": [5, 6, 7], "fields": ["*"]}})
    issuer = await api.call("registry", "POST", "/v1/clients", mqa_key, {
        "role": "issuer", "tenant_id": "demo-university-my", "name": "Demo University Malaysia registry"})
    my_key = issuer["api_key"]
    await api.call("registry", "POST", "/v1/issuers/demo-university-my/keys", my_key, {"custody": "hosted"})
    module = spec("Machine Learning Foundations", 0.0, 6, ["Train and evaluate a classifier"], "machine-learning",
                  country="MY", quality_assurance="MQA programme accreditation")
    module |= {"framework_id": "demo-mqf", "level_code": "MQF-6", "workload": {"hours": 120.0}}
    await api.call("registry", "POST", "/v1/achievements", my_key, {"achievement_id": "demo-my-ml", "spec": module})
    await api.call("registry", "POST", "/v1/achievements/demo-my-ml/approve", mqa_key)
    return {"agency": {"id": "demo-mqa", "api_key": mqa_key}, "issuer": {"id": "demo-university-my", "api_key": my_key},
            "achievement": "demo-my-ml", "framework_referencing": referencing["referencing"]["current"][0]}


async def _agreement_and_pathway(api: Api, world: dict[str, Any]) -> dict[str, Any]:
    issuer_key, agency_key = world["issuer"]["api_key"], world["agency"]["api_key"]
    agreement = await api.call("registry", "POST", "/v1/recognition-agreements", issuer_key, {
        "agreement_id": "demo-recognition", "title": "MQA-accredited EQF 6 computing modules",
        "match": {"levels": ["6"], "fields": ["06"], "min_hours": 100.0, "accredited_by": ["demo-mqa"]},
        "credit_value": 5.0, "max_credential_age_days": 1825, "on_revoked": "flag"})
    await api.call("registry", "POST", "/v1/achievements", issuer_key, {
        "achievement_id": "demo-cross-award",
        "spec": spec("Certificate in Applied Machine Learning", 10.0, 6, ["Deliver a machine learning project"],
                     "applied-ml")})
    await api.call("registry", "POST", "/v1/achievements/demo-cross-award/approve", agency_key)
    await api.call("registry", "POST", "/v1/pathways", issuer_key, {
        "pathway_id": "demo-cross-pathway", "title": "Applied Machine Learning, with recognised credit",
        "award_achievement_id": "demo-cross-award", "rule": {"required": ["demo-python"], "min_credits": 10.0}})
    await api.call("registry", "POST", "/v1/pathways/demo-cross-pathway/approve", agency_key)
    return agreement["agreement"]


async def seed_recognition(api: Api, admin_key: str, world: dict[str, Any]) -> dict[str, Any]:
    malaysia = await _malaysia(api, admin_key)
    agreement = await _agreement_and_pathway(api, world)
    ada = world["credentials"]["demo-1"]
    foreign = await api.call("issuance", "POST", "/v1/credentials", malaysia["issuer"]["api_key"], {
        "reference": "demo-my-1", "achievement_id": "demo-my-ml", "learner": {"email": ada["learner"]}},
        retry_for=20.0)
    components = [ada["credential_id"], foreign["credential_id"]]
    stack = await api.call("issuance", "POST", "/v1/stacks", world["issuer"]["api_key"], {
        "pathway_id": "demo-cross-pathway", "component_ids": components}, retry_for=20.0)
    award_id = stack["award_credential_id"]
    if await until_verdict(api, award_id, "valid") != "valid":
        raise DemoError(f"the cross-issuer award {award_id} does not verify valid")
    verify = api.settings.url_of("verification")
    return {
        "recognition": {"agreement_id": agreement["agreement_id"], "recognising_issuer": "demo-university",
                        "agreement": api.settings.url_of("registry") + "/v1/recognition-agreements/demo-recognition",
                        "second_university": malaysia["issuer"], "second_agency": malaysia["agency"],
                        "framework_referencing": malaysia["framework_referencing"]},
        "cross_issuer_award": {
            "credential_id": award_id, "pathway": "demo-cross-pathway", "badge_page": f"{verify}/verify/{award_id}",
            "components": [{"credential_id": ada["credential_id"], "issuer": "demo-university", "agreement_id": None},
                           {"credential_id": foreign["credential_id"], "issuer": "demo-university-my",
                            "agreement_id": agreement["agreement_id"]}],
        },
    }
