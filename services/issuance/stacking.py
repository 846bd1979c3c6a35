"""Pathway rules: does a learner's set of credentials earn a pathway's award?

Pure functions over credential rows and the registry state, shared by the
stack claim endpoint, the automatic stacker and the learner's pathway view,
so the three can never disagree about what a rule means:

- a component counts when it is active (not revoked or suspended), not
  expired, not older than `max_component_age_days`, at or above
  `min_eqf_level`, of a stackable achievement, and issued by the pathway's
  issuer unless the rule allows other issuers;
- the rule's achievements are `required` plus every `choices` group's
  options; a rule naming none counts any achievement (credit accumulation);
- it holds when every required achievement is held, each choice group has
  at least k of its options held, and the ECTS credits of the counted
  components reach `min_credits`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from services.issuance.store import CredentialRow
from shared.credential_status import STANDING
from shared.events.registry import ChoiceGroup, PathwayRule
from shared.registry_state import Pathway, RegistryState


@dataclass(frozen=True)
class Evaluation:
    pathway: Pathway
    # achievement id -> the credential that counts for it
    held: dict[str, CredentialRow]
    missing_required: list[str]
    choices: list[tuple[ChoiceGroup, list[str]]]
    credits_held: float

    @property
    def rule(self) -> PathwayRule:
        return self.pathway.event.rule

    @property
    def credits_needed(self) -> float:
        return max(self.rule.min_credits - self.credits_held, 0.0)

    @property
    def satisfied(self) -> bool:
        return (bool(self.held) and not self.missing_required and self.credits_needed == 0.0
                and all(len(held) >= group.k for group, held in self.choices))

    def shortfall(self) -> str:
        """What is missing, in words, for a 422 detail."""
        parts = []
        if self.missing_required:
            parts.append(f"required achievements missing: {', '.join(self.missing_required)}")
        for group, held in self.choices:
            if len(held) < group.k:
                parts.append(f"{group.k} of {', '.join(group.of)} needed, {len(held)} held")
        if self.credits_needed:
            parts.append(f"{self.credits_needed:g} more ECTS credits needed")
        return "; ".join(parts) or "no component counts towards this pathway"


def stack_id_for(pathway_id: str, learner_key: str, round_no: int = 0) -> str:
    """One stack per pathway, learner and round, whoever claims it and however often.

    A round ends only when its award is revoked (a cascade from a revoked
    component, say): the learner may then earn the award again, in the next
    round, with replacement components.
    """
    key = f"{pathway_id}\n{learner_key}" + (f"\n{round_no}" if round_no else "")
    return "stk-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def rule_achievements(rule: PathwayRule) -> set[str] | None:
    """The achievements the rule counts; None when any achievement counts."""
    named = set(rule.required).union(*(group.of for group in rule.choices))
    return named or None


def ineligibility(row: CredentialRow, pathway: Pathway, state: RegistryState, moment: dt.datetime) -> str | None:
    """Why a credential cannot count as a component of this pathway, or None."""
    rule = pathway.event.rule
    achievement = state.achievements.get(row.achievement_id)
    if row.status not in STANDING:
        return f"it is {row.status}"
    if row.valid_until is not None and row.valid_until <= moment:
        return "it has expired"
    if row.pathway_id == pathway.event.pathway_id:
        return "it is this pathway's own award"
    max_age = rule.max_component_age_days
    if max_age is not None and row.valid_from < moment - dt.timedelta(days=max_age):
        return f"it is older than {max_age} days"
    if not rule.allow_other_issuers and row.issuer_id != pathway.event.issuer_id:
        return f"it was issued by {row.issuer_id}, and this pathway counts only {pathway.event.issuer_id}'s"
    if achievement is None or not achievement.spec.stackable:
        return f"achievement {row.achievement_id} is not stackable"
    if rule.min_eqf_level is not None and achievement.spec.eqf_level < rule.min_eqf_level:
        return f"its EQF level {achievement.spec.eqf_level} is below {rule.min_eqf_level}"
    return None


def evaluate(pathway: Pathway, rows: Iterable[CredentialRow], state: RegistryState, moment: dt.datetime) -> Evaluation:
    rule = pathway.event.rule
    counted = rule_achievements(rule)
    held: dict[str, CredentialRow] = {}
    # Newest first, so a re-taken achievement counts with its latest credential.
    for row in sorted(rows, key=lambda r: r.valid_from, reverse=True):
        if (counted is None or row.achievement_id in counted) and row.achievement_id not in held \
                and ineligibility(row, pathway, state, moment) is None:
            held[row.achievement_id] = row
    credits = sum(_ects(state, achievement_id) for achievement_id in held)
    return Evaluation(
        pathway=pathway,
        held=held,
        missing_required=[a for a in rule.required if a not in held],
        choices=[(group, [a for a in group.of if a in held]) for group in rule.choices],
        credits_held=credits,
    )


def _ects(state: RegistryState, achievement_id: str) -> float:
    achievement = state.achievements.get(achievement_id)
    return (achievement.spec.workload.ects or 0.0) if achievement else 0.0


def auto_pathways_using(state: RegistryState, achievement_id: str) -> list[Pathway]:
    """Approved pathways that award automatically and count this achievement."""
    found = []
    for pathway in state.pathways.values():
        rule = pathway.event.rule
        if pathway.status == "approved" and rule.auto_award:
            counted = rule_achievements(rule)
            if counted is None or achievement_id in counted:
                found.append(pathway)
    return found
