"""The registry's rules as pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from services.registry import rules
from shared.events import registry as ev
from tests.support.world import sample_spec

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def scope(levels=(), fields=("*",), frameworks=(), credit_bearing=True) -> ev.AccreditationScope:
    return ev.AccreditationScope(eqf_levels=list(levels), fields=list(fields), frameworks=list(frameworks),
                                 credit_bearing=credit_bearing)


@pytest.mark.parametrize(("grant", "holder", "says"), [
    (scope([6, 7]), scope([5, 6, 7, 8]), None),
    (scope([6, 9]), scope([5, 6, 7, 8]), "EQF level 9"),
    (scope([]), scope([5, 6]), "every EQF level"),
    (scope([6]), scope([]), None),
    (scope([6], ["0613"]), scope([6], ["06"]), None),
    (scope([6], ["061"]), scope([6], ["0613"]), "fields ['061']"),
    (scope([6], ["*"]), scope([6], ["06"]), "fields ['*']"),
    (scope([6], frameworks=["nfq"]), scope([6], frameworks=["nfq", "eqf"]), None),
    (scope([6], frameworks=["other"]), scope([6], frameworks=["nfq"]), "frameworks ['other']"),
    (scope([6], frameworks=[]), scope([6], frameworks=["nfq"]), None),  # empty: the accreditor's own
    (scope([6], credit_bearing=True), scope([6], credit_bearing=False), "credit-bearing"),
    (scope([6], credit_bearing=False), scope([6], credit_bearing=True), None),
])
def test_nobody_grants_beyond_their_own_scope(grant, holder, says):
    excess = rules.scope_excess(grant, holder)
    assert (excess is None) if says is None else (says in excess)


@pytest.mark.parametrize(("bad", "says"), [
    (scope([0]), "1 to 8"), (scope([6, 6]), "twice"), (scope([6], []), "at least one field"),
    (scope([6], ["ICT"]), "ISCED-F"), (scope([6], ["06131"]), "ISCED-F"),
])
def test_malformed_scopes(bad, says):
    assert says in rules.scope_problem(bad)


def test_levels_read_like_a_person_writes_them():
    assert rules.describe_levels([]) == "every EQF level"
    assert rules.describe_levels([8, 5, 6, 7]) == "EQF levels 5-8"
    assert rules.describe_levels([2, 4]) == "EQF levels 2, 4"
    assert rules.describe_levels([7]) == "EQF level 7"


@pytest.mark.parametrize(("jurisdiction", "place", "covered"), [
    ("IE", "IE", True), ("BE", "BE-VLG", True), ("BE-VLG", "BE", True), ("BE-VLG", "BE-WAL", False),
    ("IE", "FR", False), ("IE", "IES", False),
])
def test_jurisdictions(jurisdiction, place, covered):
    assert rules.jurisdiction_covers(jurisdiction, place) is covered


def test_windows_may_not_start_in_the_past_or_end_before_they_start():
    assert rules.window_problem(NOW, None, NOW) is None
    assert rules.window_problem(NOW - dt.timedelta(minutes=1), None, NOW) is None  # clock skew
    assert "past" in rules.window_problem(NOW - dt.timedelta(hours=1), None, NOW)
    assert "after valid_from" in rules.window_problem(NOW, NOW, NOW)


def test_an_accreditation_covers_a_spec_by_level_field_framework_and_credit():
    spec = sample_spec(eqf_level=6, field="0613", framework_id="nfq")
    assert rules.coverage_problem(scope([6], ["06"]), spec) is None
    assert "EQF level 6" in rules.coverage_problem(scope([7]), spec)
    assert "field 0613" in rules.coverage_problem(scope([6], ["04"]), spec)
    assert "framework 'nfq'" in rules.coverage_problem(scope([6], frameworks=["other"]), spec)
    assert "credit-bearing" in rules.coverage_problem(scope([6], credit_bearing=False), spec)


def test_spec_elements_are_required():
    assert rules.spec_problem(sample_spec(), "IE") is None
    assert "issuer's country IE" in rules.spec_problem(sample_spec(country="FR"), "IE")
    assert "ECTS credits or hours" in rules.spec_problem(sample_spec(workload=ev.Workload()), "IE")
    assert "learning outcome" in rules.spec_problem(sample_spec(learning_outcomes=[" "]), "IE")


def test_pathway_rules_must_be_satisfiable():
    ok = ev.PathwayRule(required=["a"], choices=[ev.ChoiceGroup(k=1, of=["b", "c"])])
    assert rules.pathway_rule_problem(ok, "award") is None
    assert rules.pathway_components(ok) == ["a", "b", "c"]
    repeated = ev.PathwayRule(required=["a"], choices=[ev.ChoiceGroup(k=1, of=["a"])])
    assert "twice" in rules.pathway_rule_problem(repeated, "x")
    assert "1 <= k" in rules.pathway_rule_problem(ev.PathwayRule(choices=[ev.ChoiceGroup(k=0, of=["a"])]), "x")
    assert "own components" in rules.pathway_rule_problem(ev.PathwayRule(required=["x"]), "x")
    assert "needs components" in rules.pathway_rule_problem(ev.PathwayRule(), "x")
