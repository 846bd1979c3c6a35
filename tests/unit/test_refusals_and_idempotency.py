"""The refusal vocabulary maps to HTTP in one table, and idempotency keys follow one rule."""

from __future__ import annotations

import pytest

from shared.http.problem import HEADERS_OF_REFUSAL, STATUS_OF_REFUSAL, ItemProblem, problem_of
from shared.idempotency import KeyReused, checked_key, fingerprint
from shared.refusals import KINDS, Conflict, Malformed, Refusal, Unavailable


def test_every_refusal_kind_has_one_status_and_headers_only_where_a_status_asks():
    assert set(STATUS_OF_REFUSAL) == set(KINDS)
    assert set(HEADERS_OF_REFUSAL) <= set(KINDS)
    assert problem_of(Unavailable("later")).headers == {"Retry-After": "1"}


def test_a_refusal_survives_being_stored_as_a_record():
    refusal = Conflict("already revoked", code="status-conflict", extra={"current_status": "revoked"})
    again = refusal.record().refusal()
    assert type(again) is Conflict and (again.code, again.title, again.detail, again.extra) == (
        refusal.code, refusal.title, refusal.detail, refusal.extra)
    whole, item = problem_of(refusal), ItemProblem.of(refusal.record())
    assert (whole.status, whole.slug, whole.title) == (item.status, item.type.rsplit("/", 1)[1], item.title) == (
        409, "status-conflict", refusal.title)
    assert item.current_status == "revoked"


@pytest.mark.parametrize("key", ["", "with space", "tab\there", "é", "x" * 256])
def test_keys_outside_the_rule_are_malformed(key):
    with pytest.raises(Malformed):
        checked_key(key)


def test_keys_inside_the_rule_pass_and_none_means_no_key():
    assert checked_key("term-2026/batch#1") == "term-2026/batch#1"
    assert checked_key("~" * 255) == "~" * 255
    assert checked_key(None) is None


def test_fingerprints_cannot_be_run_together():
    # Without the length prefixes these would hash the same bytes.
    assert fingerprint("POST", "/v1/a", b"b") != fingerprint("POST", "/v1/", b"ab")
    assert fingerprint("POST", "/v1/a", b"b") == fingerprint(b"POST", "/v1/a", "b")


def test_a_reused_key_is_an_invalid_refusal_naming_the_key():
    refused = KeyReused("k-1")
    assert isinstance(refused, Refusal) and refused.code == "idempotency-key-reused" and "'k-1'" in refused.detail
    assert problem_of(refused).status == 422
