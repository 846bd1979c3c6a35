"""The Open Badges 3.0 `Achievement` and issuer `Profile` objects.

One builder for both places each object appears: embedded in every
credential (issuance) and served at its own id on the public origin
(registry), so the id a credential names answers with the very object the
credential carries.

The EU Council Recommendation's standard elements go into Open Badges
fields where those exist (name, description, criteria, achievementType,
creditsAvailable, fieldOfStudy, inLanguage, alignment for skills and
levels, resultDescription) and the rest into `euStandardElements`, an
extension property of the Achievement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from shared.credential_format import OB_CONTEXT, VC_CONTEXT
from shared.events.registry import AchievementSpec, FrameworkLevel
from shared.jsonld.contexts import platform_context_url


def published_context(public_base_url: str) -> list[str]:
    """The contexts of an Achievement or Profile served on its own: those a
    credential lists, so the platform's extension terms (euStandardElements)
    are defined there too."""
    return [VC_CONTEXT, OB_CONTEXT, platform_context_url(public_base_url)]

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


class AchievementLike(Protocol):
    """The registry's in-memory state and its table view both qualify."""

    achievement_id: str
    spec: AchievementSpec


class FrameworkLike(Protocol):
    framework_id: str
    name: str
    levels: list[FrameworkLevel]


def profile_object(did: str, legal_name: str, homepage: str, country: str) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": did, "type": ["Profile"], "name": legal_name}
    if homepage:
        profile["url"] = homepage
    profile["address"] = {"type": ["Address"], "addressCountryCode": country}
    return profile


def framework_url(public_base_url: str, framework_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/frameworks/{framework_id}"


def achievement_url(public_base_url: str, achievement_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/achievements/{achievement_id}"


def achievement_image_url(public_base_url: str, achievement_id: str) -> str:
    return f"{achievement_url(public_base_url, achievement_id)}/image"


def achievement_id_from_url(public_base_url: str, url: str) -> str | None:
    prefix = achievement_url(public_base_url, "")
    return url[len(prefix):] if url.startswith(prefix) and len(url) > len(prefix) else None


def achievement_object(
    achievement: AchievementLike, frameworks: Mapping[str, FrameworkLike], base: str, *, uploaded_image: bool = False
) -> dict[str, Any]:
    """`uploaded_image`: the issuer uploaded one, served on the public
    origin; it takes the place of the spec's image link."""
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
    image = achievement_image_url(base, achievement.achievement_id) if uploaded_image else spec.image
    if image:
        body["image"] = {"id": image, "type": "Image"}
    return body


def _achievement_type(value: str) -> str:
    if value in OB_ACHIEVEMENT_TYPES or value.startswith("ext:"):
        return value
    return "ext:" + "".join(c for c in value if c.isalnum() or c in ".-_")


def _alignments(spec: AchievementSpec, frameworks: Mapping[str, FrameworkLike], base: str) -> list[dict[str, Any]]:
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
            "targetUrl": f"{framework_url(base, framework.framework_id)}#{spec.level_code}",
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
