"""`credledger up --demo`: a small, realistic world to click through.

Seeded through the services' public HTTP APIs, exactly as an agency, a
university and an employer would use them: a root agency accredits a
university, approves two micro-credentials and a stacked award, issues
credentials to demo learners, stacks two of them, revokes one and suspends
another, and creates an employer client. Then a second university abroad
and an award stacked from components of both (credledger/demo_recognition.py).
The ids and API keys go to `demo.json` in the home folder, with a one-time
sign-in link into the first demo learner's wallet. A home that already has
one is left as is.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from shared.settings import Settings
from shared.web.sessions import Sealer
from shared.web.sign_in import SignInLinks

DEMO_FILE = "demo.json"
LEARNERS = ("ada@example.org", "grace@example.org", "alan@example.org")


class DemoError(RuntimeError):
    pass


class Api:
    def __init__(self, session: aiohttp.ClientSession, settings: Settings) -> None:
        self._session = session
        self.settings = settings

    async def call(self, service: str, method: str, path: str, key: str | None, body: Any = None,
                   *, retry_for: float = 0.0) -> dict[str, Any]:
        """One request; with `retry_for`, 4xx answers are retried while the
        target service's read model catches up with what was just written."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        deadline = time.monotonic() + retry_for
        while True:
            async with self._session.request(method, self.settings.url_of(service) + path,  # type: ignore[arg-type]
                                             json=body, headers=headers) as response:
                answer = await response.json(content_type=None)
                if response.status < 400:
                    return answer
                if time.monotonic() >= deadline:
                    raise DemoError(f"{method} {path}: {response.status} {answer.get('detail', answer)}")
            await asyncio.sleep(0.2)


def spec(title: str, ects: float, level: int, outcomes: list[str], skill: str, *, country: str = "IE",
         quality_assurance: str = "QQI institutional review") -> dict[str, Any]:
    return {
        "title": title, "description": f"{title}: a university micro-credential.",
        "criteria": "Pass the supervised practical assessment.", "country": country,
        "learning_outcomes": outcomes, "workload": {"ects": ects, "hours": ects * 25},
        "eqf_level": level, "field": "0613", "assessment_type": "supervised practical exam",
        "participation_form": "blended", "quality_assurance": quality_assurance,
        "skills": [{"uri": f"http://data.europa.eu/esco/skill/{skill}", "name": title.lower()}],
    }


async def _registry(api: Api, admin_key: str) -> dict[str, Any]:
    agency = await api.call("registry", "POST", "/v1/agencies", admin_key, {
        "name": "Demo Qualifications Authority", "jurisdiction": "IE", "agency_id": "demo-agency"})
    agency_key = agency["admin_api_key"]
    await api.call("registry", "POST", "/v1/issuers", agency_key, {
        "legal_name": "Demo University", "country": "IE", "issuer_id": "demo-university",
        "homepage": "https://university.example", "email": "registrar@university.example"})
    await api.call("registry", "POST", "/v1/accreditations", agency_key, {
        "subject_kind": "issuer", "subject_id": "demo-university",
        "scope": {"eqf_levels": [5, 6, 7], "fields": ["*"]}})
    issuer = await api.call("registry", "POST", "/v1/clients", agency_key, {
        "role": "issuer", "tenant_id": "demo-university", "name": "Demo University registry office"})
    issuer_key = issuer["api_key"]
    await api.call("registry", "POST", "/v1/issuers/demo-university/keys", issuer_key, {"custody": "hosted"})
    achievements = {
        "demo-python": spec("Data Analysis with Python", 5.0, 6, ["Clean a dataset", "Summarise data"], "python"),
        "demo-statistics": spec("Applied Statistics", 5.0, 6, ["Test a hypothesis"], "statistics"),
        "demo-data-award": spec("Certificate in Data Analytics", 10.0, 6, ["Run a data project"], "analytics"),
    }
    for achievement_id, content in achievements.items():
        await api.call("registry", "POST", "/v1/achievements", issuer_key,
                       {"achievement_id": achievement_id, "spec": content})
        await api.call("registry", "POST", f"/v1/achievements/{achievement_id}/approve", agency_key,
                       {"reason": "meets the national standard"})
    await api.call("registry", "POST", "/v1/pathways", issuer_key, {
        "pathway_id": "demo-data-pathway", "title": "Data Analytics stack",
        "award_achievement_id": "demo-data-award",
        "rule": {"required": ["demo-python", "demo-statistics"], "min_credits": 10.0}})
    await api.call("registry", "POST", "/v1/pathways/demo-data-pathway/approve", agency_key,
                   {"reason": "components and credits are coherent"})
    employer = await api.call("registry", "POST", "/v1/clients", agency_key, {
        "role": "employer", "tenant_id": "demo-employer", "name": "Demo Employer HR"})
    return {
        "agency": {"id": "demo-agency", "api_key": agency_key},
        "issuer": {"id": "demo-university", "api_key": issuer_key,
                   "did_document": api.settings.url_of("registry") + "/issuers/demo-university/did.json"},
        "achievements": list(achievements), "pathway": "demo-data-pathway",
        "employer": {"id": "demo-employer", "api_key": employer["api_key"]},
    }


async def _credentials(api: Api, world: dict[str, Any]) -> dict[str, Any]:
    issuer_key = world["issuer"]["api_key"]
    issued: dict[str, Any] = {}
    for number, (email, achievement) in enumerate(
        [(LEARNERS[0], "demo-python"), (LEARNERS[0], "demo-statistics"),
         (LEARNERS[1], "demo-python"), (LEARNERS[2], "demo-statistics")], start=1):
        answer = await api.call("issuance", "POST", "/v1/credentials", issuer_key, {
            "reference": f"demo-{number}", "achievement_id": achievement, "learner": {"email": email}},
            retry_for=20.0)
        issued[f"demo-{number}"] = {"credential_id": answer["credential_id"], "learner": email,
                                    "achievement": achievement, "holder_token": answer["holder_token"]}
    stack = await api.call("issuance", "POST", "/v1/stacks", issuer_key, {
        "pathway_id": world["pathway"],
        "component_ids": [issued["demo-1"]["credential_id"], issued["demo-2"]["credential_id"]]},
        retry_for=20.0)
    revoked, suspended = issued["demo-3"]["credential_id"], issued["demo-4"]["credential_id"]
    await api.call("revocation", "POST", f"/v1/credentials/{revoked}/revoke", issuer_key,
                   {"reason_code": "issued_in_error", "reason": "demo: issued to the wrong learner"}, retry_for=20.0)
    await api.call("revocation", "POST", f"/v1/credentials/{suspended}/suspend", issuer_key,
                   {"reason_code": "under_investigation", "reason": "demo: assessment under review"}, retry_for=20.0)
    # "ready" must mean what it says: the badge pages and the employer API
    # already answer the demo's revocation and suspension.
    for changed in (revoked, suspended):
        if await until_verdict(api, changed, "invalid") != "invalid":
            raise DemoError(f"the verification service does not yet answer {changed} as changed")
    verify = api.settings.url_of("verification")
    return {
        "credentials": issued,
        "stacked_award": {"credential_id": stack["award_credential_id"], "components": stack["component_ids"]},
        "revoked": revoked, "suspended": suspended,
        "badge_pages": {ref: f"{verify}/verify/{c['credential_id']}" for ref, c in issued.items()},
    }


async def until_verdict(api: Api, credential_id: str, wanted: str, timeout: float = 30.0) -> str | None:
    """The verdict once it is `wanted`, or the last one seen after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await api.call("verification", "GET", f"/v1/credentials/{credential_id}/verification", None,
                                retry_for=timeout)
        if answer.get("verdict") == wanted or time.monotonic() >= deadline:
            return answer.get("verdict")
        await asyncio.sleep(0.1)


async def seed(settings: Settings, home: Path) -> Path:
    from credledger.demo_recognition import seed_recognition  # it builds on this module
    path = home / DEMO_FILE
    if path.exists():
        return path
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        api = Api(session, settings)
        world = await _registry(api, settings.bootstrap_admin_key)
        world |= await _credentials(api, world)
        world |= await seed_recognition(api, settings.bootstrap_admin_key, world)
    world["employer"]["portal"] = portal_url(settings)
    world["wallet"] = await wallet_link(settings, home, LEARNERS[0])
    path.touch(mode=0o600)
    path.write_text(json.dumps(world, indent=2) + "\n")
    return path


def portal_url(settings: Settings) -> str:
    """The employer portal on the public origin (the gateway routes /employer)."""
    return settings.page_origin("employer") + "/employer/"


async def wallet_link(settings: Settings, home: Path, learner: str) -> dict[str, str]:
    """A one-time link signing the demo learner into their wallet (as the
    claim emails in the outbox do), valid as long as a claim link."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        links = SignInLinks(pool, "wallet", Sealer(settings.master_key, "wallet"), settings.claim_link_max_age_seconds)
        token = await links.issue(learner, "/")
    finally:
        await pool.close()
    return {"learner": learner, "sign_in_link": f"{settings.page_origin('wallet')}/wallet/sign-in/{token}",
            "sign_in": f"{settings.page_origin('wallet')}/wallet/sign-in", "outbox": str(home / "outbox")}


def links(path: Path) -> list[str]:
    """What `credledger up --demo` prints about the demo world, from its demo.json."""
    world = json.loads(path.read_text())
    employer = world.get("employer", {})
    found = []
    if employer.get("portal"):
        found.append(f"employer portal for {employer['id']}: {employer['portal']} "
                     f"(first sign-in: any email and the employer API key in {path.name})")
    wallet = world.get("wallet", {})
    if wallet.get("sign_in_link"):
        found.append(f"wallet of the demo learner {wallet['learner']}: {wallet['sign_in_link']} (works once; "
                     f"then sign in at {wallet['sign_in']}: the emails land in {wallet['outbox']})")
    return found
