"""Standard documents the registry publishes: did:web DID documents and
Open Badges 3.0 Achievements.

The DID document lists every key the issuer ever registered, retired and
compromised ones included, because a verifier resolving it for an old
credential must still find the key that signed it. Whether a key was valid
*when* it signed is the registry's key history (windows and compromise
times, also given here as the Controlled Identifiers `expires` / `revoked`
properties), not the key's presence in the document.
"""

from __future__ import annotations

from typing import Any

from services.registry import views as v
from shared.credential_format import OB_CONTEXT, VC_CONTEXT, verification_method
from shared.crypto.did_key import DID_CONTEXT, DID_KEY_PREFIX, MULTIKEY_CONTEXT
from shared.timeutil import format_time

EQF_URI = "http://data.europa.eu/snb/eqf/{level}"
ISCED_F_URI = "http://data.europa.eu/snb/isced-f/{code}"


def did_document(did: str, key_rows: list[Any]) -> dict[str, Any]:
    methods = [_verification_method(did, row) for row in key_rows]
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        # Each key is also reachable as its own did:key.
        "alsoKnownAs": [DID_KEY_PREFIX + row["public_key_multibase"] for row in key_rows],
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


def _verification_method(did: str, row: Any) -> dict[str, Any]:
    method: dict[str, Any] = {
        "id": verification_method(did, row["key_id"]),
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": row["public_key_multibase"],
    }
    if row["valid_until"] is not None:
        method["expires"] = format_time(row["valid_until"])
    if row["compromised_at"] is not None:
        method["revoked"] = format_time(row["compromised_at"])
    return method


def achievement_url(public_base_url: str, achievement_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/v1/achievements/{achievement_id}"


def open_badges_achievement(
    achievement: v.AchievementView, issuer: v.IssuerView, public_base_url: str
) -> dict[str, Any]:
    """The spec as an OB 3.0 `Achievement`. EU elements without an OB 3.0
    property (assessment, participation, quality assurance, grading, ...)
    stay in the registry's own view of the achievement."""
    spec = achievement.spec
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": achievement_url(public_base_url, achievement.achievement_id),
        "type": ["Achievement"],
        "achievementType": spec.achievement_type,
        "name": spec.title,
        "description": spec.description,
        "criteria": {"narrative": _narrative(achievement)},
        "creator": _creator(issuer),
        "inLanguage": spec.language,
        "fieldOfStudy": spec.field,
        "alignment": _alignments(achievement),
    }
    if spec.workload.ects is not None:
        document["creditsAvailable"] = spec.workload.ects
    if spec.image:
        document["image"] = {"id": spec.image, "type": "Image"}
    return document


def _narrative(achievement: v.AchievementView) -> str:
    """OB 3.0 has no learning-outcomes property; the criteria narrative
    (Markdown) is where a reader of the badge looks for them."""
    outcomes = "\n".join(f"- {outcome}" for outcome in achievement.spec.learning_outcomes)
    return f"{achievement.spec.criteria}\n\nLearning outcomes:\n{outcomes}"


def _creator(issuer: v.IssuerView) -> dict[str, Any]:
    creator: dict[str, Any] = {"id": issuer.did, "type": ["Profile"], "name": issuer.legal_name}
    if issuer.homepage:
        creator["url"] = issuer.homepage
    if issuer.email:
        creator["email"] = issuer.email
    return creator


def _alignments(achievement: v.AchievementView) -> list[dict[str, Any]]:
    spec = achievement.spec
    aligned = [
        {"type": ["Alignment"], "targetName": f"EQF level {spec.eqf_level}",
         "targetUrl": EQF_URI.format(level=spec.eqf_level), "targetFramework": "European Qualifications Framework",
         "targetCode": str(spec.eqf_level)},
        {"type": ["Alignment"], "targetName": f"ISCED-F 2013 field {spec.field}",
         "targetUrl": ISCED_F_URI.format(code=spec.field), "targetFramework": "ISCED-F 2013",
         "targetCode": spec.field},
    ]
    aligned += [
        {"type": ["Alignment"], "targetName": skill.name, "targetUrl": skill.uri, "targetType": "ceasn:Competency"}
        for skill in spec.skills
    ]
    return aligned
