"""Pathway rules: does a learner's set of credentials earn a pathway's award?

Pure functions over credential rows and the registry state, shared by the
stack claim endpoint, the automatic stacker and the learner's pathway view,
so the three can never disagree about what a rule means:

- a component counts when it is active (not revoked or suspended), not
  expired, not older than `max_component_age_days`, at or above
  `min_eqf_level`, of a stackable achievement, issued by the pathway's
  issuer, or by another issuer when the rule allows other issuers or a
  recognition agreement in force admits it (services/issuance/recognition.py),
  and not already redeemed for another award of the pathway's credit pool;
- an admitted component fills the rule's slot for its achievement if the
  rule names it, and otherwise brings the agreement's credit value;
- the rule's achievements are `required` plus every `choices` group's
  options; a rule naming none counts any achievement (credit accumulation);
- it holds when every required achievement is held, each choice group has
  at least k of its options held, and the ECTS credits of the counted
  components reach `min_credits`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.issuance.recognition import Admitted, admission
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
    # credential id -> the agreement that admitted it (other issuers' components)
    admitted: dict[str, Admitted] = field(default_factory=dict)
    # achievement id -> the credits its component counts with
    component_credits: dict[str, float] = field(default_factory=dict)

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


def credit_pool(pathway: Pathway) -> str:
    return pathway.event.rule.credit_pool or pathway.event.pathway_id


def ineligibility(row: CredentialRow, pathway: Pathway, state: RegistryState, moment: dt.datetime) -> str | None:
    """Why a credential cannot count as a component of this pathway, or None."""
    return assess(row, pathway, state, moment)[0]


def assess(row: CredentialRow, pathway: Pathway, state: RegistryState,
           moment: dt.datetime) -> tuple[str | None, Admitted | None]:
    """(why it cannot count or None, the agreement admitting another issuer's credential)."""
    reason = _own_ineligibility(row, pathway, state, moment)
    if reason is not None or row.issuer_id == pathway.event.issuer_id:
        return reason, None
    admitted, why = admission(row, pathway, state, moment)
    if admitted is None and not pathway.event.rule.allow_other_issuers:
        return (f"it was issued by {row.issuer_id}, and no recognition agreement of {pathway.event.issuer_id}"
                f" in force admits it ({why})"), None
    return None, admitted


def _own_ineligibility(row: CredentialRow, pathway: Pathway, state: RegistryState,
                       moment: dt.datetime) -> str | None:
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
    if achievement is None or not achievement.spec.stackable:
        return f"achievement {row.achievement_id} is not stackable"
    if rule.min_eqf_level is not None and achievement.spec.eqf_level < rule.min_eqf_level:
        return f"its EQF level {achievement.spec.eqf_level} is below {rule.min_eqf_level}"
    return None


def evaluate(pathway: Pathway, rows: Iterable[CredentialRow], state: RegistryState, moment: dt.datetime,
             redeemed: Mapping[str, str] | None = None) -> Evaluation:
    """`redeemed`: credential id -> the award of the pathway's credit pool its credits went to."""
    rule = pathway.event.rule
    counted = rule_achievements(rule)
    held: dict[str, CredentialRow] = {}
    admitted: dict[str, Admitted] = {}
    # Newest first, so a re-taken achievement counts with its latest credential.
    for row in sorted(rows, key=lambda r: r.valid_from, reverse=True):
        if row.achievement_id in held or (redeemed and row.credential_id in redeemed):
            continue
        reason, admitting = assess(row, pathway, state, moment)
        if reason is None and (counted is None or row.achievement_id in counted or admitting is not None):
            held[row.achievement_id] = row
            if admitting is not None:
                admitted[row.credential_id] = admitting
    per = {a: admitted[row.credential_id].credits if row.credential_id in admitted else _ects(state, a)
           for a, row in held.items()}
    return Evaluation(
        pathway=pathway,
        held=held,
        missing_required=[a for a in rule.required if a not in held],
        choices=[(group, [a for a in group.of if a in held]) for group in rule.choices],
        credits_held=sum(per.values()),
        admitted=admitted,
        component_credits=per,
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
