"""Learner identities: what parses, how it is hashed, and learner link tokens."""

from __future__ import annotations

import pytest

from services.issuance.learners import LearnerIdentityInvalid, LearnerSecrets, parse_identity, token_hash, token_matches
from services.issuance.schemas import LearnerIdentity
from shared.credential_format import identity_hash

SECRETS = LearnerSecrets("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
OTHER_PLATFORM = LearnerSecrets("HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=")


@pytest.mark.parametrize("identity, expected", [
    (LearnerIdentity(email=" Ada.Lovelace@Example.ORG "), ("emailAddress", "ada.lovelace@example.org")),
    (LearnerIdentity(email="a+tag@sub.example.ie"), ("emailAddress", "a+tag@sub.example.ie")),
    (LearnerIdentity(national_id="1234567 ta"), ("nationalIdentityNumber", "1234567TA")),
    (LearnerIdentity(national_id="12345678-Z"), ("nationalIdentityNumber", "12345678-Z")),
])
def test_well_formed_identities_are_normalised(identity, expected):
    assert parse_identity(identity) == expected


@pytest.mark.parametrize("identity", [
    LearnerIdentity(),
    LearnerIdentity(email="ada@example.org", national_id="1234567TA"),
    LearnerIdentity(email="ada"),
    LearnerIdentity(email="ada@localhost"),
    LearnerIdentity(email="ada lovelace@example.org"),
    LearnerIdentity(email="ada@@example.org"),
    LearnerIdentity(national_id="12"),
    LearnerIdentity(national_id="1234;DROP"),
])
def test_malformed_identities_are_a_422_that_says_why(identity):
    with pytest.raises(LearnerIdentityInvalid) as raised:
        parse_identity(identity)
    assert raised.value.status == 422 and raised.value.detail


def test_one_learner_has_one_hash_on_this_platform_and_another_elsewhere():
    learner = SECRETS.learner(LearnerIdentity(email="ada@example.org"))
    assert learner == SECRETS.learner(LearnerIdentity(email="ADA@example.org "))
    assert learner.learner_hash == identity_hash("emailAddress", "ada@example.org", learner.salt)
    assert learner.learner_hash != SECRETS.learner(LearnerIdentity(email="bob@example.org")).learner_hash
    assert learner.learner_hash != OTHER_PLATFORM.learner(LearnerIdentity(email="ada@example.org")).learner_hash


def test_holder_tokens_are_per_credential_and_only_their_hash_is_needed():
    token = SECRETS.holder_token("urn:uuid:1")
    assert token == SECRETS.holder_token("urn:uuid:1") != SECRETS.holder_token("urn:uuid:2")
    assert len(token) >= 43 and token_matches(token, token_hash(token))
    assert not token_matches(token + "x", token_hash(token))
