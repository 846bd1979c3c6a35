"""Open Badges 3.0 `OpenBadgeCredential` documents (W3C VC 2.0), unsigned.

A credential is a `Template` (everything one issuer's credentials of one
achievement share: the issuer profile and the whole Achievement object, the
latter already in RFC 8785 form) plus a small per-credential part (id,
dates, learner, result, evidence, the status entry). The template is built
once per achievement per request, so a batch of 10,000 canonicalises the
achievement once; JCS keeps the pre-canonical bytes as they are. The
Achievement object itself comes from shared/ob3_objects.py, which
the registry also serves at the achievement's id.

The EU Council Recommendation's standard elements go into Open Badges
fields where those exist and the rest into `euStandardElements`, an
extension property of the Achievement, defined by the platform's own
JSON-LD context (shared/jsonld/contexts/credledger-v1.jsonld), which every
credential lists after the VC 2.0 and OB 3.0 ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from services.issuance.learners import Learner
from services.issuance.schemas import EvidenceItem
from shared.credential_format import OB_CONTEXT, VC_CONTEXT, status_list_url
from shared.crypto.jcs import canonicalize
from shared.events.credentials import StatusEntry
from shared.events.registry import FrameworkPublished
from shared.jsonld.contexts import platform_context_url
from shared.ob3_objects import achievement_object, profile_object
from shared.registry_state import Achievement, Issuer, RegistryState

# Every credential's contexts begin with these; the platform's own follows.
STANDARD_CONTEXTS = [VC_CONTEXT, OB_CONTEXT]
CREDENTIAL_TYPE = ["VerifiableCredential", "OpenBadgeCredential"]


@dataclass(frozen=True, slots=True)
class Template:
    """The shared part of one issuer's credentials for one achievement.

    Plain data only: it travels to the signing processes by pickle.
    """

    issuer_profile: dict[str, Any]
    achievement_json: bytes  # RFC 8785 bytes of the Achievement object
    name: str
    description: str
    context: tuple[str, ...]
    # The id of the achievement's ResultDescription a grade refers to.
    result_description: str | None = None


def issuer_profile(issuer: Issuer) -> dict[str, Any]:
    registered = issuer.event
    return profile_object(registered.did, registered.legal_name, registered.homepage, registered.country)


def template_for(
    issuer: Issuer, achievement: Achievement, frameworks: dict[str, FrameworkPublished], public_base_url: str
) -> Template:
    profile = issuer_profile(issuer)
    # No `creator`: it would repeat the credential's issuer in every document.
    body = achievement_object(achievement, frameworks, public_base_url, uploaded_image=achievement.image is not None)
    spec = achievement.spec
    result_description = body["resultDescription"][0]["id"] if "resultDescription" in body else None
    context = (*STANDARD_CONTEXTS, platform_context_url(public_base_url))
    return Template(profile, canonicalize(body), spec.title, spec.description, context, result_description)


class Templates:
    """template_for of the registry state as it is, rendered once per
    (issuer, achievement) while the state is unchanged: every request for
    one achievement shares the template, as a batch's credentials do."""

    def __init__(self, state: RegistryState, public_base_url: str) -> None:
        self._state = state
        self._public_base_url = public_base_url
        self._version = -1
        self._rendered: dict[tuple[str, str], Template] = {}

    def of(self, issuer: Issuer, achievement: Achievement) -> Template:
        if self._version != self._state.version:
            # Any registry event may change a profile, an achievement or a framework.
            self._rendered.clear()
            self._version = self._state.version
        key = (issuer.issuer_id, achievement.achievement_id)
        template = self._rendered.get(key)
        if template is None:
            template = self._rendered[key] = template_for(issuer, achievement, self._state.frameworks,
                                                          self._public_base_url)
        return template


def identity_object(learner: Learner) -> dict[str, Any]:
    return {
        "type": "IdentityObject", "hashed": True, "identityHash": learner.learner_hash,
        "identityType": learner.identity_type, "salt": learner.salt,
    }


def status_object(public_base_url: str, entry: StatusEntry) -> dict[str, Any]:
    """The credential's one Bitstring Status List entry (docs/status.md)."""
    list_url = status_list_url(public_base_url, entry.list_id)
    return {
        "id": f"{list_url}#{entry.index}", "type": "BitstringStatusListEntry",
        "statusPurpose": entry.purpose, "statusListIndex": str(entry.index),
        "statusListCredential": list_url,
    }


def evidence_objects(items: list[EvidenceItem]) -> list[dict[str, Any]]:
    objects = []
    for item in items:
        evidence: dict[str, Any] = {"type": ["Evidence"]}
        for field, value in (("id", item.url), ("name", item.name), ("narrative", item.narrative),
                             ("genre", item.genre), ("description", item.description),
                             ("audience", item.audience)):
            if value:
                evidence[field] = value
        objects.append(evidence)
    return objects


def component_evidence(component_ids: list[str]) -> list[dict[str, Any]]:
    """A stacked award names its components as evidence: each one a credential."""
    return [{"id": cid, "type": ["Evidence"], "name": "Component credential", "genre": "stacked component"}
            for cid in component_ids]


@dataclass(frozen=True, slots=True)
class Particulars:
    """The per-credential part, as plain data (it is pickled to signers)."""

    credential_id: str
    valid_from: str
    valid_until: str | None
    identity: dict[str, Any]
    status: dict[str, Any]
    grade: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()


def assemble(template: Template, item: Particulars) -> dict[str, Any]:
    """The unsigned credential."""
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [item.identity],
        "achievement": msgspec.Raw(template.achievement_json),
    }
    if item.grade:
        result = {"type": ["Result"], "value": item.grade}
        if template.result_description:
            result["resultDescription"] = template.result_description
        subject["result"] = [result]
    document: dict[str, Any] = {
        "@context": list(template.context),
        "id": item.credential_id,
        "type": list(CREDENTIAL_TYPE),
        "issuer": template.issuer_profile,
        "name": template.name,
        "description": template.description,
        "validFrom": item.valid_from,
        "awardedDate": item.valid_from,
        "credentialSubject": subject,
        "credentialStatus": item.status,
    }
    if item.valid_until:
        document["validUntil"] = item.valid_until
    if item.evidence:
        document["evidence"] = list(item.evidence)
    return document
