"""Framework referencing (level mapping) and recognition agreement matching,
as pure functions over the registry state."""

from __future__ import annotations

import datetime as dt

from services.issuance.recognition import admission
from services.issuance.stacking import evaluate
from services.issuance.store import CredentialRow
from services.registry.recognition_rules import match_problem, referencing_problem
from shared.events import recognition as rec
from shared.events import registry as ev
from shared.recognition_state import eqf_level_of, levels_in
from shared.registry_state import RegistryState
from tests.support.world import sample_spec

EPOCH = "2020-01-01T00:00:00Z"
NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
LEARNER = "lk$test$" + "a" * 64


def _framework(framework_id: str, agency_id: str, codes: list[str]) -> ev.FrameworkPublished:
    return ev.FrameworkPublished(framework_id=framework_id, agency_id=agency_id, name=framework_id.upper(),
                                 credit_system="national_credits", hours_per_credit=40.0,
                                 levels=[ev.FrameworkLevel(code=c, title=f"Level {c}") for c in codes])


def _referenced(framework_id: str, pairs: dict[str, str], at: str = EPOCH, target: str = rec.EQF):
    return rec.FrameworkReferenced(framework_id=framework_id, agency_id="a", target_framework_id=target, at=at,
                                   mappings=[rec.LevelMapping(level_code=c, target_level=t) for c, t in pairs.items()])


def world(*agreements: rec.RecognitionAgreementDeclared, accredited_by: str = "mqa") -> RegistryState:
    state = RegistryState()
    scope = ev.AccreditationScope(eqf_levels=list(range(1, 9)))
    state.apply_all([
        ev.AgencyCreated(agency_id="qqi", name="QQI", jurisdiction="IE", scope=scope),
        ev.AgencyCreated(agency_id="mqa", name="MQA", jurisdiction="MY", scope=scope),
        ev.AgencyCreated(agency_id="mqa-sub", name="MQA region", jurisdiction="MY", parent_agency_id="mqa",
                         scope=scope),
        ev.AccreditationGranted(accreditation_id="d-sub", accreditor_id="mqa", subject_kind="agency",
                                subject_id="mqa-sub", scope=scope, valid_from=EPOCH),
        ev.AccreditationGranted(accreditation_id="acc-ie", accreditor_id="qqi", subject_kind="issuer",
                                subject_id="uni-ie", scope=scope, valid_from=EPOCH),
        ev.AccreditationGranted(accreditation_id="acc-my", accreditor_id=accredited_by, subject_kind="issuer",
                                subject_id="uni-my", scope=scope, valid_from=EPOCH),
        _framework("mqf", "mqa", ["MQF-5", "MQF-6", "MQF-7"]),
        _framework("nfq", "qqi", ["7", "8", "9"]),
        _referenced("mqf", {"MQF-5": "5", "MQF-6": "6", "MQF-7": "7"}),
        _referenced("nfq", {"7": "6", "8": "6", "9": "7"}),
    ])
    for achievement_id, issuer_id, spec in (
        ("own", "uni-ie", {}), ("award", "uni-ie", {"workload": ev.Workload(ects=10.0)}),
        ("my-ml", "uni-my", {"country": "MY", "framework_id": "mqf", "level_code": "MQF-6",
                             "workload": ev.Workload(ects=4.0, hours=120.0)}),
        ("my-intro", "uni-my", {"country": "MY", "framework_id": "mqf", "level_code": "MQF-5", "eqf_level": 5}),
    ):
        state.apply_all([ev.AchievementProposed(achievement_id=achievement_id, issuer_id=issuer_id,
                                                spec=sample_spec(**spec)),
                         ev.AchievementApproved(achievement_id=achievement_id, agency_id="x", at=EPOCH)])
    state.apply_all([
        ev.PathwayProposed(pathway_id="p", issuer_id="uni-ie", title="P", award_achievement_id="award",
                           rule=ev.PathwayRule(required=["own"], min_credits=10.0)),
        ev.PathwayApproved(pathway_id="p", agency_id="qqi", at=EPOCH), *agreements,
    ])
    return state


def agreement(agreement_id: str = "rec-1", **fields) -> rec.RecognitionAgreementDeclared:
    values = dict(agreement_id=agreement_id, recognising_kind="issuer", recognising_id="uni-ie",
                  match=rec.CredentialMatch(levels=["6"], fields=["06"], min_hours=100.0, accredited_by=["mqa"]),
                  valid_from=EPOCH, credit_value=5.0)
    values.update(fields)
    return rec.RecognitionAgreementDeclared(**values)  # type: ignore[arg-type]


def held(achievement_id: str, issuer_id: str, days_old: int = 10, cid: str = "") -> CredentialRow:
    valid_from = NOW - dt.timedelta(days=days_old)
    return CredentialRow(
        credential_id=cid or f"urn:uuid:{achievement_id}", issuer_id=issuer_id, issuer_reference=None,
        achievement_id=achievement_id, learner_hash="h", learner_key=LEARNER, identity_type="emailAddress",
        identity_salt="s", holder_token_hash="", key_id="key-1", signing="hosted", pathway_id=None,
        valid_from=valid_from, valid_until=None)


def test_national_levels_map_to_the_eqf_and_to_each_other_through_it():
    state = world()
    ml = state.achievements["my-ml"].spec
    assert eqf_level_of(ml, state.recognitions, state.frameworks, NOW) == "6"
    assert levels_in(rec.EQF, ml, state.recognitions, state.frameworks, NOW) == {"6"}
    # NFQ 7 and 8 are both EQF 6: an MQF 6 credential is at either.
    assert levels_in("nfq", ml, state.recognitions, state.frameworks, NOW) == {"7", "8"}
    assert levels_in("mqf", ml, state.recognitions, state.frameworks, NOW) == {"MQF-6"}
    assert levels_in(rec.EQF, sample_spec(eqf_level=4), state.recognitions, state.frameworks, NOW) == {"4"}


def test_the_referencing_in_force_at_the_moment_counts_and_a_direct_one_wins():
    state = world()
    state.apply(_referenced("mqf", {"MQF-6": "5"}, at="2026-07-01T00:00:00Z"))
    ml = state.achievements["my-ml"].spec
    assert levels_in(rec.EQF, ml, state.recognitions, state.frameworks, NOW) == {"6"}
    later = NOW + dt.timedelta(days=2)
    assert levels_in(rec.EQF, ml, state.recognitions, state.frameworks, later) == {"5"}
    state.apply(_referenced("mqf", {"MQF-6": "9"}, target="nfq"))
    assert levels_in("nfq", ml, state.recognitions, state.frameworks, NOW) == {"9"}


def test_an_agreement_admits_a_matching_foreign_credential_with_its_credit_value():
    state = world(agreement())
    admitted, why = admission(held("my-ml", "uni-my"), state.pathways["p"], state, NOW)
    assert admitted is not None and admitted.agreement.agreement_id == "rec-1" and admitted.credits == 5.0, why
    evaluation = evaluate(state.pathways["p"], [held("own", "uni-ie"), held("my-ml", "uni-my")], state, NOW)
    assert evaluation.satisfied and evaluation.credits_held == 10.0
    assert evaluation.admitted["urn:uuid:my-ml"].agreement.agreement_id == "rec-1"


def test_what_an_agreement_does_not_admit():
    pathway_state = world(agreement(valid_until="2026-01-01T00:00:00Z"))
    cases = {
        "level": (world(agreement()), held("my-intro", "uni-my")),
        "expired agreement": (pathway_state, held("my-ml", "uni-my")),
        "too old": (world(agreement(max_credential_age_days=5)), held("my-ml", "uni-my")),
        "other agency": (world(agreement(), accredited_by="qqi"), held("my-ml", "uni-my")),
        "workload": (world(agreement(match=rec.CredentialMatch(levels=["6"], min_ects=5.0))),
                     held("my-ml", "uni-my")),
        "field": (world(agreement(match=rec.CredentialMatch(levels=["6"], fields=["04"]))), held("my-ml", "uni-my")),
        "other pathway": (world(agreement(pathway_ids=["q"])), held("my-ml", "uni-my")),
        "revoked": (world(agreement()), held("my-ml", "uni-my")),
    }
    cases["revoked"][0].apply(rec.RecognitionAgreementRevoked(agreement_id="rec-1", revoked_by="qqi", reason="r",
                                                              at="2026-01-01T00:00:00Z"))
    for name, (state, row) in cases.items():
        admitted, why = admission(row, state.pathways["p"], state, NOW)
        assert admitted is None and why, name
        assert not evaluate(state.pathways["p"], [held("own", "uni-ie"), row], state, NOW).satisfied, name


def test_agency_agreements_sub_agencies_and_named_achievements():
    by_agency = agreement(recognising_kind="agency", recognising_id="qqi",
                          match=rec.CredentialMatch(achievement_id="my-ml"))
    state = world(by_agency, accredited_by="mqa-sub")
    assert admission(held("my-ml", "uni-my"), state.pathways["p"], state, NOW)[0] is not None
    assert admission(held("my-intro", "uni-my"), state.pathways["p"], state, NOW)[0] is None
    # accredited by a sub-agency of a named agency counts as accredited by it
    assert admission(held("my-ml", "uni-my"), world(agreement(), accredited_by="mqa-sub").pathways["p"],
                     world(agreement(), accredited_by="mqa-sub"), NOW)[0] is not None


def test_the_registry_rules_for_matches_and_referencing():
    codes = ["MQF-5", "MQF-6"]
    assert match_problem(rec.CredentialMatch(), codes)
    assert match_problem(rec.CredentialMatch(framework_id="mqf", levels=["MQF-9"]), codes)
    assert match_problem(rec.CredentialMatch(levels=["6"], fields=["*"]), [str(i) for i in range(1, 9)])
    assert match_problem(rec.CredentialMatch(levels=["6"]), None)
    assert match_problem(rec.CredentialMatch(framework_id="mqf", levels=["MQF-6"]), codes) is None
    eqf = [str(i) for i in range(1, 9)]
    ok = [rec.LevelMapping(level_code="MQF-6", target_level="6")]
    assert referencing_problem("mqf", codes, rec.EQF, eqf, ok) is None
    assert referencing_problem("mqf", codes, "mqf", codes, ok)
    assert referencing_problem("mqf", codes, rec.EQF, eqf, ok + ok)
    assert referencing_problem("mqf", codes, rec.EQF, eqf, [rec.LevelMapping(level_code="X", target_level="6")])
    assert referencing_problem("mqf", codes, rec.EQF, eqf, [rec.LevelMapping(level_code="MQF-6", target_level="9")])
    assert referencing_problem("mqf", codes, "nope", None, ok)
