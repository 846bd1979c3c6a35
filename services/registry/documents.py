"""Standard documents the registry publishes: did:web DID documents, Open
Badges 3.0 Achievements and Profiles, and frameworks.

The DID document lists every key the issuer ever registered, retired and
compromised ones included, because a verifier resolving it for an old
credential must still find the key that signed it. Whether a key was valid
*when* it signed is the registry's key history (windows and compromise
times, also given here as the Controlled Identifiers `expires` / `revoked`
properties), not the key's presence in the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.registry import views as v
from shared.credential_format import verification_method
from shared.crypto.did_key import DID_CONTEXT, DID_KEY_PREFIX, MULTIKEY_CONTEXT
from shared.events import registry as ev
from shared.ob3_objects import (
    EQF_LEVEL_URL,
    achievement_object,
    framework_url,
    profile_object,
    published_context,
)
from shared.timeutil import format_time

SCHEMA_ORG_CONTEXT = "https://schema.org"


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


def achievement_document(
    achievement: v.AchievementView, issuer: v.IssuerView, frameworks: Mapping[str, v.FrameworkView],
    public_base_url: str, *, uploaded_image: bool = False,
) -> dict[str, Any]:
    """The OB 3.0 `Achievement` served at the id credentials embed: the very
    object they carry, plus its creator, which a credential gives as its
    issuer instead."""
    embedded = achievement_object(achievement, frameworks, public_base_url, uploaded_image=uploaded_image)
    return {"@context": published_context(public_base_url), **embedded, "creator": issuer_profile(issuer)}


def issuer_profile(issuer: v.IssuerView) -> dict[str, Any]:
    return profile_object(issuer.did, issuer.legal_name, issuer.homepage, issuer.country)


def profile_document(issuer: v.IssuerView, public_base_url: str) -> dict[str, Any]:
    """The OB 3.0 `Profile` of an issuer, as credentials name it (by its DID)."""
    return {"@context": published_context(public_base_url), **issuer_profile(issuer)}


def framework_document(framework: v.FrameworkView, public_base_url: str) -> dict[str, Any]:
    """A framework as a schema.org DefinedTermSet: credentials align to
    `{framework url}#{level code}`, and each level is a term with that id."""
    url = framework_url(public_base_url, framework.framework_id)
    return {
        "@context": SCHEMA_ORG_CONTEXT,
        "@id": url,
        "@type": "DefinedTermSet",
        "name": framework.name,
        "hasDefinedTerm": [_level_term(url, level) for level in framework.levels],
    }


def _level_term(url: str, level: ev.FrameworkLevel) -> dict[str, Any]:
    term: dict[str, Any] = {"@id": f"{url}#{level.code}", "@type": "DefinedTerm", "termCode": level.code,
                            "name": level.title, "inDefinedTermSet": url}
    if level.eqf_level is not None:
        term["sameAs"] = EQF_LEVEL_URL.format(level=level.eqf_level)
    return term
