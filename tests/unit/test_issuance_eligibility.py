"""Issuance eligibility from a registry state built of events: each check
refuses with its own code, in the order a person would fix them."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from services.issuance.eligibility import authorise
from shared.crypto.multibase import public_key_to_multibase
from shared.events import registry as ev
from shared.http.problem import problem_of
from shared.refusals import Conflict, Forbidden, NotFound, Refusal
from shared.registry_state import RegistryState

T0 = "2026-01-01T00:00:00Z"
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
SPEC = ev.AchievementSpec(
    title="Data literacy", description="d", criteria="c", country="BE", learning_outcomes=["reads data"],
    workload=ev.Workload(ects=5), eqf_level=6, field="0613", assessment_type="exam",
    participation_form="online", quality_assurance="internal",
)


def registered(*, accredited: bool = True, key: bool = True, approved: bool = True) -> RegistryState:
    state = RegistryState()
    events: list[ev.Event] = [
        ev.AgencyCreated(agency_id="root", name="Root", jurisdiction="BE", scope=ev.AccreditationScope()),
        ev.IssuerRegistered(issuer_id="uni", registered_by="root", legal_name="U", country="BE",
                            did="did:web:x:issuers:uni"),
        ev.IssuerRegistered(issuer_id="other", registered_by="root", legal_name="O", country="BE",
                            did="did:web:x:issuers:other"),
        ev.AchievementProposed(achievement_id="ach", issuer_id="uni", spec=SPEC),
    ]
    if approved:
        events.append(ev.AchievementApproved(achievement_id="ach", agency_id="root", at=T0))
    if accredited:
        events.append(ev.AccreditationGranted(
            accreditation_id="acc", accreditor_id="root", subject_kind="issuer", subject_id="uni",
            scope=ev.AccreditationScope(eqf_levels=[6], fields=["06"]), valid_from=T0))
    if key:
        events.append(ev.IssuerKeyAdded(issuer_id="uni", key_id="key-1", custody="hosted", valid_from=T0,
                                        public_key_multibase=public_key_to_multibase(bytes([1]) * 32)))
    state.apply_all(events)
    return state


def refusal(state: RegistryState, issuer_id: str = "uni", achievement_id: str = "ach") -> Refusal:
    with pytest.raises(Refusal) as raised:
        authorise(state, issuer_id, achievement_id, NOW)
    return raised.value


def test_a_registered_accredited_issuer_with_a_key_gets_a_grant():
    grant = authorise(registered(), "uni", "ach", NOW)
    assert grant.issuer.issuer_id == "uni" and grant.achievement.achievement_id == "ach"
    assert grant.key is not None and grant.key.key_id == "key-1"


def test_issuer_signed_credentials_need_no_hosted_key():
    assert authorise(registered(key=False), "uni", "ach", NOW, hosted=False).key is None


@pytest.mark.parametrize(("state", "issuer_id", "achievement_id", "kind", "code", "status"), [
    (registered(), "ghost", "ach", Forbidden, "issuer-not-registered", 403),
    (registered(), "uni", "nothing", NotFound, "achievement-not-found", 404),
    (registered(), "other", "ach", Forbidden, "achievement-of-another-issuer", 403),
    (registered(approved=False), "uni", "ach", Conflict, "achievement-not-approved", 409),
    (registered(accredited=False), "uni", "ach", Forbidden, "issuer-not-accredited", 403),
    (registered(key=False), "uni", "ach", Conflict, "no-signing-key", 409),
])
def test_each_check_refuses_with_its_own_code(state, issuer_id, achievement_id, kind, code, status):
    refused = refusal(state, issuer_id, achievement_id)
    assert type(refused) is kind and refused.code == code and refused.detail
    assert problem_of(refused).status == status


def test_the_first_thing_to_fix_is_named_first():
    # Neither accredited nor keyed: accreditation comes first.
    assert refusal(registered(accredited=False, key=False)).code == "issuer-not-accredited"


def test_an_accreditation_outside_its_field_does_not_count():
    state = registered()
    state.apply(ev.AchievementProposed(achievement_id="law", issuer_id="uni",
                                       spec=msgspec.structs.replace(SPEC, field="0421")))
    state.apply(ev.AchievementApproved(achievement_id="law", agency_id="root", at=T0))
    assert refusal(state, achievement_id="law").code == "issuer-not-accredited"


def test_a_compromised_key_does_not_sign():
    state = registered()
    state.apply(ev.IssuerKeyCompromised(issuer_id="uni", key_id="key-1", compromised_at=T0,
                                              reason="leaked"))
    assert refusal(state).code == "no-signing-key"
