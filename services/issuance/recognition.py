"""Which recognition agreement admits another issuer's credential toward a
pathway: pure functions over a credential row and the registry state.

An agreement applies to a pathway when its recogniser is the pathway's
issuer (or an agency that accredited that issuer, in force at the moment of
the claim), it names the pathway or no pathway, and it is in force then. It
admits a credential when:

- the credential's achievement is approved and another issuer's;
- it is the achievement the agreement names, or it is at one of the
  agreement's levels (in the agreement's framework, through framework
  referencing: an MQF 6 credential is at EQF 6 when MQF is so referenced),
  in one of its fields and with at least its workload;
- its issuer was accredited, when it issued the credential, for that level
  and field by one of the named agencies (or one of their sub-agencies);
- it is no older than the agreement's maximum age at the moment of the claim.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.issuance.store import CredentialRow
from shared.events import recognition as rec
from shared.recognition_state import Agreement, levels_in
from shared.registry_state import Achievement, Pathway, RegistryState


@dataclass(frozen=True, slots=True)
class Admitted:
    agreement: Agreement
    credits: float


def applies_to(agreement: Agreement, pathway: Pathway, state: RegistryState, moment: dt.datetime) -> bool:
    declared = agreement.event
    if not agreement.in_force_at(moment):
        return False
    if declared.pathway_ids and pathway.event.pathway_id not in declared.pathway_ids:
        return False
    issuer_id = pathway.event.issuer_id
    if declared.recognising_kind == "issuer":
        return declared.recognising_id == issuer_id
    return any(a.accreditor_id == declared.recognising_id and a.active_at(moment)
               for a in state.accreditations_of(issuer_id))


def mismatch(match: rec.CredentialMatch, achievement: Achievement, state: RegistryState,
             issued_at: dt.datetime) -> str | None:
    """Why the credential's achievement does not meet the agreement's match, or None."""
    spec = achievement.spec
    if match.achievement_id is not None and match.achievement_id != achievement.achievement_id:
        return f"the agreement names achievement {match.achievement_id}"
    if match.levels:
        levels = levels_in(match.framework_id, spec, state.recognitions, state.frameworks, issued_at)
        if not levels & set(match.levels):
            shown = ", ".join(sorted(levels)) or "no known level"
            return f"it is at {match.framework_id} {shown}, not {', '.join(match.levels)}"
    if match.fields and not any(spec.field.startswith(f) for f in match.fields):
        return f"its field {spec.field} is outside {', '.join(match.fields)}"
    if match.min_ects is not None and (spec.workload.ects or 0.0) < match.min_ects:
        return f"its workload is below {match.min_ects:g} ECTS"
    if match.min_hours is not None and (spec.workload.hours or 0.0) < match.min_hours:
        return f"its workload is below {match.min_hours:g} hours"
    return None


def accredited_by(state: RegistryState, issuer_id: str, achievement: Achievement, issued_at: dt.datetime,
                  agencies: list[str]) -> bool:
    """Was the issuer accredited for this achievement when it issued, by one of
    `agencies` or a sub-agency of one (any agency when the list is empty)?"""
    spec = achievement.spec
    for accreditation in state.accreditations_of(issuer_id):
        if (accreditation.subject_kind == "issuer" and accreditation.active_at(issued_at)
                and accreditation.covers(spec.eqf_level, spec.field)
                and state.agency_in_force(accreditation.accreditor_id, issued_at)
                and (not agencies or _under(state, accreditation.accreditor_id, set(agencies)))):
            return True
    return False


def _under(state: RegistryState, agency_id: str | None, wanted: set[str]) -> bool:
    seen: set[str] = set()
    while agency_id is not None and agency_id not in seen:
        if agency_id in wanted:
            return True
        seen.add(agency_id)
        agency = state.agencies.get(agency_id)
        agency_id = agency.parent_agency_id if agency else None
    return False


def refusal_of(agreement: Agreement, row: CredentialRow, achievement: Achievement, state: RegistryState,
               moment: dt.datetime) -> str | None:
    """Why this agreement does not admit the credential, or None."""
    declared = agreement.event
    reason = mismatch(declared.match, achievement, state, row.valid_from)
    if reason is None and not accredited_by(state, row.issuer_id, achievement, row.valid_from,
                                            declared.match.accredited_by):
        named = ", ".join(declared.match.accredited_by) or "any agency"
        reason = f"{row.issuer_id} was not accredited for it by {named} when it issued it"
    max_age = declared.max_credential_age_days
    if reason is None and max_age is not None and row.valid_from < moment - dt.timedelta(days=max_age):
        reason = f"it is older than the {max_age} days the agreement accepts"
    return reason


def admission(row: CredentialRow, pathway: Pathway, state: RegistryState,
              moment: dt.datetime) -> tuple[Admitted | None, str]:
    """The agreement (first declared) that admits another issuer's credential, or why none does."""
    achievement = state.achievements.get(row.achievement_id)
    if achievement is None or achievement.status != "approved" or achievement.issuer_id == pathway.event.issuer_id:
        return None, "its achievement is not another issuer's approved achievement"
    reasons = []
    for agreement in state.recognitions.agreements.values():
        if not applies_to(agreement, pathway, state, moment):
            continue
        reason = refusal_of(agreement, row, achievement, state, moment)
        if reason is None:
            return Admitted(agreement, agreement.event.credit_value), ""
        reasons.append(f"{agreement.agreement_id}: {reason}")
    return None, "; ".join(reasons) or f"no recognition agreement in force for {pathway.event.issuer_id}'s pathway"
