"""May this issuer issue this achievement now, and with which key?

Answered from the registry's state as the service's in-memory projection
holds it (never by calling the registry), so the checks cost microseconds
and a batch of 10,000 asks them once per distinct achievement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.refusals import Conflict, Forbidden, NotFound
from shared.registry_state import Achievement, Issuer, IssuerKey, RegistryState


@dataclass(frozen=True, slots=True)
class Grant:
    """What one issuer may do with one achievement at one moment."""

    issuer: Issuer
    achievement: Achievement
    key: IssuerKey | None


def registered_issuer(state: RegistryState, issuer_id: str) -> Issuer:
    issuer = state.issuers.get(issuer_id)
    if issuer is None:
        raise Forbidden(f"this API key belongs to issuer {issuer_id!r}, which the registry does not know",
                        code="issuer-not-registered", title="The issuer is not registered")
    return issuer


def approved_achievement(state: RegistryState, issuer_id: str, achievement_id: str) -> Achievement:
    achievement = state.achievements.get(achievement_id)
    if achievement is None:
        raise NotFound(f"there is no achievement {achievement_id!r} in the registry",
                       code="achievement-not-found", title="Unknown achievement")
    if achievement.issuer_id != issuer_id:
        raise Forbidden(f"achievement {achievement_id!r} is {achievement.issuer_id}'s, not {issuer_id}'s",
                        code="achievement-of-another-issuer", title="The achievement belongs to another issuer")
    if achievement.status != "approved":
        raise Conflict(f"achievement {achievement_id!r} is {achievement.status}; only approved ones can be issued",
                       code="achievement-not-approved", title="The achievement is not approved")
    return achievement


def check_accredited(state: RegistryState, issuer_id: str, achievement: Achievement, moment: dt.datetime) -> None:
    spec = achievement.spec
    if state.accreditation_for(issuer_id, moment, spec.eqf_level, spec.field) is None:
        raise Forbidden(f"{issuer_id} holds no active accreditation covering EQF level {spec.eqf_level}"
                        f" in field {spec.field} now",
                        code="issuer-not-accredited", title="The issuer is not accredited for this achievement")


def hosted_key(state: RegistryState, issuer_id: str, moment: dt.datetime) -> IssuerKey:
    key = state.signing_key_at(issuer_id, moment, "hosted")
    if key is None:
        raise Conflict(f"{issuer_id} has no hosted signing key that is valid and not compromised now",
                       code="no-signing-key", title="No usable signing key")
    return key


def authorise(
    state: RegistryState, issuer_id: str, achievement_id: str, moment: dt.datetime, *, hosted: bool = True
) -> Grant:
    """Every registry check of an issuance, in the order a person would fix them.

    `hosted=False` is for issuer-signed credentials, whose key is checked
    against the proof instead.
    """
    issuer = registered_issuer(state, issuer_id)
    achievement = approved_achievement(state, issuer_id, achievement_id)
    check_accredited(state, issuer_id, achievement, moment)
    key = hosted_key(state, issuer_id, moment) if hosted else None
    return Grant(issuer, achievement, key)
