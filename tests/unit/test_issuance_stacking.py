"""Pathway rules over a learner's credentials."""

from __future__ import annotations

import datetime as dt

from services.issuance.stacking import auto_pathways_using, evaluate, ineligibility, stack_id_for
from services.issuance.store import CredentialRow
from shared.events import registry as ev
from shared.registry_state import RegistryState
from tests.support.world import sample_spec

NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
LEARNER = "sha256$" + "a" * 64


def registry(**rule: object) -> RegistryState:
    state = RegistryState()
    events: list[ev.Event] = []
    for achievement_id, issuer_id, spec in (
        ("a", "uni-1", {}), ("b", "uni-1", {"workload": ev.Workload(ects=10.0)}),
        ("c", "uni-1", {"eqf_level": 4}), ("d", "uni-1", {"stackable": False}),
        ("x", "uni-2", {}), ("award", "uni-1", {"workload": ev.Workload(ects=20.0)}),
    ):
        events += [ev.AchievementProposed(achievement_id=achievement_id, issuer_id=issuer_id, spec=sample_spec(**spec)),
                   ev.AchievementApproved(achievement_id=achievement_id, agency_id="qqi", at="2020-01-01T00:00:00Z")]
    events += [
        ev.PathwayProposed(pathway_id="p", issuer_id="uni-1", title="P", award_achievement_id="award",
                           rule=ev.PathwayRule(**rule)),  # type: ignore[arg-type]
        ev.PathwayApproved(pathway_id="p", agency_id="qqi", at="2020-01-01T00:00:00Z"),
    ]
    state.apply_all(events)
    return state


def held(achievement_id: str, *, issuer_id: str = "uni-1", status: str = "active", days_old: int = 10,
         valid_days: int | None = None, cid: str | None = None) -> CredentialRow:
    valid_from = NOW - dt.timedelta(days=days_old)
    return CredentialRow(
        credential_id=cid or f"urn:uuid:{achievement_id}-{days_old}", issuer_id=issuer_id, issuer_reference=None,
        achievement_id=achievement_id, learner_hash=LEARNER, learner_key=LEARNER, identity_type="emailAddress",
        identity_salt="s",
        holder_token_hash="", key_id="key-1", signing="hosted", pathway_id=None, valid_from=valid_from,
        valid_until=valid_from + dt.timedelta(days=valid_days) if valid_days else None, status=status)


def test_required_achievements_and_credits():
    state = registry(required=["a", "b"], min_credits=15.0)
    pathway = state.pathways["p"]
    partial = evaluate(pathway, [held("a")], state, NOW)
    assert not partial.satisfied and partial.missing_required == ["b"] and partial.credits_needed == 10.0
    assert "b" in partial.shortfall() and "10 more ECTS" in partial.shortfall()
    full = evaluate(pathway, [held("a"), held("b")], state, NOW)
    assert full.satisfied and full.credits_held == 15.0 and set(full.held) == {"a", "b"}


def test_choice_groups_need_k_of_their_options():
    state = registry(choices=[ev.ChoiceGroup(k=2, of=["a", "b", "c"])])
    pathway = state.pathways["p"]
    assert not evaluate(pathway, [held("a")], state, NOW).satisfied
    assert evaluate(pathway, [held("a"), held("c")], state, NOW).satisfied


def test_what_cannot_count():
    state = registry(required=["a", "c", "d", "x"], min_eqf_level=5, max_component_age_days=365)
    pathway = state.pathways["p"]
    reasons = {
        "revoked": ineligibility(held("a", status="revoked"), pathway, state, NOW),
        "expired": ineligibility(held("a", valid_days=5), pathway, state, NOW),
        "old": ineligibility(held("a", days_old=400), pathway, state, NOW),
        "level": ineligibility(held("c"), pathway, state, NOW),
        "stackable": ineligibility(held("d"), pathway, state, NOW),
        "issuer": ineligibility(held("x", issuer_id="uni-2"), pathway, state, NOW),
    }
    assert all(reasons.values()), reasons
    assert ineligibility(held("a"), pathway, state, NOW) is None
    allowing = registry(required=["x"], allow_other_issuers=True)
    assert ineligibility(held("x", issuer_id="uni-2"), allowing.pathways["p"], allowing, NOW) is None


def test_the_newest_eligible_credential_counts_and_credit_pathways_take_any_achievement():
    state = registry(min_credits=20.0)
    pathway = state.pathways["p"]
    evaluation = evaluate(pathway, [held("b", days_old=30, cid="old"), held("b", days_old=5, cid="new"),
                                    held("a", status="suspended")], state, NOW)
    assert evaluation.held["b"].credential_id == "new" and "a" not in evaluation.held
    assert not evaluation.satisfied and evaluation.credits_needed == 10.0
    assert evaluate(pathway, [held("b"), held("a"), held("c")], state, NOW).satisfied


def test_automatic_pathways_and_stack_ids():
    manual = registry(required=["a"])
    assert auto_pathways_using(manual, "a") == []
    auto = registry(required=["a"], auto_award=True)
    assert [p.event.pathway_id for p in auto_pathways_using(auto, "a")] == ["p"]
    assert auto_pathways_using(auto, "b") == []
    assert stack_id_for("p", LEARNER) == stack_id_for("p", LEARNER) != stack_id_for("q", LEARNER)
