"""RegistryState extensions the registry relies on: delegation chains,
ISCED-F field nesting, and picking the successor key after a rotation."""

from __future__ import annotations

import datetime as dt

from shared.crypto.multibase import public_key_to_multibase
from shared.events import registry as ev
from shared.registry_state import RegistryState

T0 = "2026-01-01T00:00:00Z"
LATER = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def state_with_delegate() -> RegistryState:
    state = RegistryState()
    state.apply_all([
        ev.AgencyCreated(agency_id="root", name="Root", jurisdiction="BE", scope=ev.AccreditationScope()),
        ev.AgencyCreated(agency_id="sub", name="Sub", jurisdiction="BE-VLG", parent_agency_id="root",
                         scope=ev.AccreditationScope()),
        ev.AccreditationGranted(accreditation_id="delegation", accreditor_id="root", subject_kind="agency",
                                subject_id="sub", scope=ev.AccreditationScope(), valid_from=T0),
        ev.AccreditationGranted(accreditation_id="acc", accreditor_id="sub", subject_kind="issuer",
                                subject_id="uni", scope=ev.AccreditationScope(eqf_levels=[6], fields=["06"]),
                                valid_from=T0),
    ])
    return state


def test_what_a_delegate_granted_holds_only_while_its_delegation_does():
    state = state_with_delegate()
    assert state.accreditation_for("uni", LATER, 6, "0613").accreditation_id == "acc"
    state.apply(ev.AccreditationSuspended(accreditation_id="delegation", reason="review", at="2026-01-15T00:00:00Z"))
    assert state.accreditation_for("uni", LATER, 6, "0613") is None
    # Before the suspension it held, so what was issued then stays valid.
    assert state.accreditation_for("uni", dt.datetime(2026, 1, 10, tzinfo=dt.UTC), 6, "0613") is not None


def test_unknown_accreditors_grant_nothing():
    state = RegistryState()
    state.apply(ev.AccreditationGranted(accreditation_id="a", accreditor_id="ghost", subject_kind="issuer",
                                        subject_id="uni", scope=ev.AccreditationScope(), valid_from=T0))
    assert state.accreditation_for("uni", LATER, 6, "0613") is None


def test_fields_nest_by_prefix():
    state = state_with_delegate()
    assert state.accreditation_for("uni", LATER, 6, "061") is not None
    assert state.accreditation_for("uni", LATER, 6, "0413") is None


def test_the_successor_key_signs_when_windows_start_in_the_same_second():
    state = RegistryState()
    state.apply(ev.IssuerRegistered(issuer_id="uni", registered_by="root", legal_name="U", country="BE",
                                    did="did:web:x:issuers:uni"))
    for key_id, byte in (("key-1", 1), ("key-2", 2)):
        state.apply(ev.IssuerKeyAdded(issuer_id="uni", key_id=key_id, custody="hosted", valid_from=T0,
                                      public_key_multibase=public_key_to_multibase(bytes([byte]) * 32)))
    state.apply(ev.IssuerKeyRetired(issuer_id="uni", key_id="key-1", valid_until="2026-01-01T00:00:01Z"))
    assert state.signing_key_at("uni", dt.datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)).key_id == "key-2"
