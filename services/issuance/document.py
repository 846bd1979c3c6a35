"""Open Badges 3.0 `OpenBadgeCredential` documents (W3C VC 2.0), unsigned.

A credential is a `Template` (everything one issuer's credentials of one
achievement share: the issuer profile and the whole Achievement object, the
latter already in RFC 8785 form) plus a small per-credential part (id,
dates, learner, result, evidence, the status entry). The template is built
once per achievement per request, so a batch of 10,000 canonicalises the
achievement once; JCS keeps the pre-canonical bytes as they are.

The EU Council Recommendation's standard elements go into Open Badges
fields where those exist (name, description, criteria, achievementType,
creditsAvailable, fieldOfStudy, inLanguage, alignment for skills and
levels, resultDescription) and the rest into `euStandardElements`, an
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
from shared.events.registry import AchievementSpec, FrameworkPublished
from shared.jsonld.contexts import platform_context_url
from shared.registry_state import Achievement, Issuer

# Every credential's contexts begin with these; the platform's own follows.
STANDARD_CONTEXTS = [VC_CONTEXT, OB_CONTEXT]
CREDENTIAL_TYPE = ["VerifiableCredential", "OpenBadgeCredential"]
ESCO_PREFIX = "http://data.europa.eu/esco/"
EQF_LEVEL_URL = "http://data.europa.eu/snb/eqf/{level}"
# Open Badges 3.0 AchievementType vocabulary; anything else goes as "ext:...".
OB_ACHIEVEMENT_TYPES = frozenset({
    "Achievement", "ApprenticeshipCertificate", "Assessment", "Assignment", "AssociateDegree", "Award",
    "Badge", "BachelorDegree", "Certificate", "CertificateOfCompletion", "Certification",
    "CommunityService", "Competency", "Course", "CoCurricular", "Degree", "Diploma", "DoctoralDegree",
    "Fieldwork", "GeneralEducationDevelopment", "JourneymanCertificate", "LearningProgram", "License",
    "Membership", "ProfessionalDoctorate", "QualityAssuranceCredential", "MasterCertificate",
    "MasterDegree", "MicroCredential", "ResearchDoctorate", "SecondarySchoolDiploma",
})


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


def achievement_url(public_base_url: str, achievement_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/achievements/{achievement_id}"


def achievement_id_from_url(public_base_url: str, url: str) -> str | None:
    prefix = achievement_url(public_base_url, "")
    return url[len(prefix):] if url.startswith(prefix) and len(url) > len(prefix) else None


def issuer_profile(issuer: Issuer) -> dict[str, Any]:
    registered = issuer.event
    profile: dict[str, Any] = {"id": registered.did, "type": ["Profile"], "name": registered.legal_name}
    if registered.homepage:
        profile["url"] = registered.homepage
    profile["address"] = {"type": ["Address"], "addressCountryCode": registered.country}
    return profile


def template_for(
    issuer: Issuer, achievement: Achievement, frameworks: dict[str, FrameworkPublished], public_base_url: str
) -> Template:
    profile = issuer_profile(issuer)
    # No `creator`: it would repeat the credential's issuer in every document.
    body = achievement_object(achievement, frameworks, public_base_url)
    spec = achievement.spec
    result_description = body["resultDescription"][0]["id"] if "resultDescription" in body else None
    context = (*STANDARD_CONTEXTS, platform_context_url(public_base_url))
    return Template(profile, canonicalize(body), spec.title, spec.description, context, result_description)


def achievement_object(
    achievement: Achievement, frameworks: dict[str, FrameworkPublished], base: str
) -> dict[str, Any]:
    spec = achievement.spec
    url = achievement_url(base, achievement.achievement_id)
    body: dict[str, Any] = {
        "id": url,
        "type": ["Achievement"],
        "name": spec.title,
        "description": spec.description,
        "criteria": {"narrative": spec.criteria},
        "achievementType": _achievement_type(spec.achievement_type),
        "fieldOfStudy": spec.field,
        "inLanguage": spec.language,
        "alignment": _alignments(spec, frameworks, base),
        "euStandardElements": _standard_elements(spec),
    }
    if spec.workload.ects is not None:
        body["creditsAvailable"] = spec.workload.ects
    if spec.grading_scheme:
        body["resultDescription"] = [{
            "id": f"{url}#grade", "type": ["ResultDescription"], "name": spec.grading_scheme,
            "resultType": "Result",
        }]
    if spec.image:
        body["image"] = {"id": spec.image, "type": "Image"}
    return body


def _achievement_type(value: str) -> str:
    if value in OB_ACHIEVEMENT_TYPES or value.startswith("ext:"):
        return value
    return "ext:" + "".join(c for c in value if c.isalnum() or c in ".-_")


def _alignments(spec: AchievementSpec, frameworks: dict[str, FrameworkPublished], base: str) -> list[dict[str, Any]]:
    aligned = [{
        "type": ["Alignment"], "targetName": skill.name, "targetUrl": skill.uri,
        "targetType": "ext:ESCOSkill" if skill.uri.startswith(ESCO_PREFIX) else "ceasn:Competency",
        **({"targetFramework": "ESCO"} if skill.uri.startswith(ESCO_PREFIX) else {}),
    } for skill in spec.skills]
    aligned.append({
        "type": ["Alignment"], "targetName": f"EQF level {spec.eqf_level}", "targetCode": str(spec.eqf_level),
        "targetFramework": "European Qualifications Framework", "targetType": "ext:EQFLevel",
        "targetUrl": EQF_LEVEL_URL.format(level=spec.eqf_level),
    })
    framework = frameworks.get(spec.framework_id or "")
    if framework is not None and spec.level_code:
        title = next((lvl.title for lvl in framework.levels if lvl.code == spec.level_code), spec.level_code)
        aligned.append({
            "type": ["Alignment"], "targetName": title, "targetCode": spec.level_code,
            "targetFramework": framework.name, "targetType": "ext:QualificationsFrameworkLevel",
            "targetUrl": f"{base.rstrip('/')}/frameworks/{framework.framework_id}#{spec.level_code}",
        })
    return aligned


def _standard_elements(spec: AchievementSpec) -> dict[str, Any]:
    """EU standard elements with no Open Badges field of their own."""
    elements: dict[str, Any] = {
        "learningOutcomes": spec.learning_outcomes,
        "country": spec.country,
        "eqfLevel": spec.eqf_level,
        "workload": msgspec.to_builtins(spec.workload),
        "assessmentType": spec.assessment_type,
        "participationForm": spec.participation_form,
        "qualityAssurance": spec.quality_assurance,
        "creditBearing": spec.credit_bearing,
        "priorLearningRecognised": spec.prior_learning_recognised,
        "stackable": spec.stackable,
    }
    optional = {
        "nationalFrameworkId": spec.framework_id, "nationalLevel": spec.level_code,
        "prerequisites": spec.prerequisites, "identityCheck": spec.identity_check,
        "gradingScheme": spec.grading_scheme,
    }
    elements.update({name: value for name, value in optional.items() if value})
    return elements


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
                             ("genre", item.genre)):
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
