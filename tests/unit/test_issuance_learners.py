"""Learner identities: what parses, how it is hashed, and learner link tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.issuance.learners import (
    LEARNER_KEY,
    LearnerIdentityInvalid,
    LearnerKeys,
    LearnerSecrets,
    key_families,
    learner_keys,
    parse_identity,
    rekeyings,
    same_learner,
)
from services.issuance.schemas import LearnerIdentity
from shared.auth import token_hash, token_matches
from shared.credential_format import identity_hash
from shared.http.problem import problem_of
from shared.settings import load_settings

MASTER = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY_SECRET = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="
NEW_KEY_SECRET = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
SECRETS = LearnerSecrets(MASTER, LearnerKeys(KEY_SECRET))
OTHER_PLATFORM = LearnerSecrets(MASTER, LearnerKeys(NEW_KEY_SECRET))


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
    assert problem_of(raised.value).status == 422 and raised.value.detail


def test_every_credential_gets_a_fresh_salt_and_the_learner_one_key_per_platform():
    learner = SECRETS.learner(LearnerIdentity(email="ada@example.org"))
    again = SECRETS.learner(LearnerIdentity(email="ADA@example.org "))
    assert learner.salt != again.salt and learner.learner_hash != again.learner_hash
    assert learner.learner_hash == identity_hash("emailAddress", "ada@example.org", learner.salt)
    assert learner.learner_key == again.learner_key and LEARNER_KEY.match(learner.learner_key)
    assert learner.learner_key != SECRETS.learner(LearnerIdentity(email="bob@example.org")).learner_key
    assert learner.learner_key != OTHER_PLATFORM.learner(LearnerIdentity(email="ada@example.org")).learner_key
    assert learner.salt not in learner.learner_key and learner.learner_key.split("$")[2] not in learner.learner_hash


def test_a_rotated_secret_still_matches_and_re_keys_the_old_key():
    before = SECRETS.learner(LearnerIdentity(email="ada@example.org"))
    rotated = LearnerSecrets(MASTER, LearnerKeys(NEW_KEY_SECRET, [KEY_SECRET]))
    after = rotated.learner(LearnerIdentity(email="ada@example.org"))
    assert after.learner_key != before.learner_key
    assert after.learner_key.split("$")[1] != before.learner_key.split("$")[1]  # another key id
    assert same_learner(after, before.learner_key)
    assert (before.learner_key, after.learner_key) in rekeyings([after])


def test_outside_production_a_missing_learner_key_secret_is_derived_and_in_production_refused():
    settings = load_settings(environ={}, master_key=MASTER)
    assert learner_keys(settings).key("emailAddress", "ada@example.org") == learner_keys(settings).key(
        "emailAddress", "ada@example.org")
    with pytest.raises(SystemExit, match="LEARNER_KEY_SECRET"):
        learner_keys(load_settings(environ={}, master_key=MASTER, environment="production"))


def test_an_issuer_signed_salt_is_kept():
    learner = SECRETS.learner(LearnerIdentity(email="ada@example.org"), salt="issuer-chosen")
    assert learner.salt == "issuer-chosen"
    assert learner.learner_hash == identity_hash("emailAddress", "ada@example.org", "issuer-chosen")


def test_a_rejected_identity_is_not_repeated_in_the_problem():
    with pytest.raises(LearnerIdentityInvalid) as raised:
        parse_identity(LearnerIdentity(email="not-an-address@nowhere"))
    assert "not-an-address" not in raised.value.detail


def test_holder_tokens_are_per_credential_and_only_their_hash_is_needed():
    token = SECRETS.holder_token("urn:uuid:1")
    assert token == SECRETS.holder_token("urn:uuid:1") != SECRETS.holder_token("urn:uuid:2")
    assert len(token) >= 43 and token_matches(token, token_hash(token))
    assert not token_matches(token + "x", token_hash(token))


def test_rows_from_before_learner_keys_are_matched_by_their_old_platform_wide_hash():
    # Before learner keys, the salt was an HMAC of the identity under a key derived from the master key.
    salt_key = hmac.new(base64.b64decode(MASTER), b"credledger/issuance/learner-salt/v1", hashlib.sha256).digest()
    old_salt = hmac.new(salt_key, b"emailAddress\nada@example.org", hashlib.sha256).hexdigest()[:32]
    old_hash = identity_hash("emailAddress", "ada@example.org", old_salt)
    keys = learner_keys(load_settings(environ={}, master_key=MASTER, learner_key_secret=KEY_SECRET))
    assert old_hash in keys.superseded("emailAddress", "ada@example.org")
    assert old_hash not in keys.superseded("emailAddress", "bob@example.org")


def test_every_superseded_key_lies_in_the_byte_range_of_its_family():
    keys = LearnerKeys(NEW_KEY_SECRET, [KEY_SECRET], legacy_master_b64=MASTER)
    superseded = [key for n in range(50) for key in keys.superseded("emailAddress", f"l{n}@example.org")]
    families = key_families(superseded)
    assert [first for first, _ in families] == sorted({"sha256$", SECRETS.keys.key("emailAddress", "x")[:12]})
    for key in superseded:
        assert sum(first.encode() <= key.encode() < bound.encode() for first, bound in families) == 1
    current = keys.key("emailAddress", "l1@example.org")
    assert not any(first.encode() <= current.encode() < bound.encode() for first, bound in families)
    assert key_families([]) == []


def test_learner_keys_and_holder_tokens_are_the_hmacs_stored_rows_were_made_with():
    # Keys and tokens already stored must keep matching: the same HMAC-SHA256 bytes as hmac.new gives.
    secret = base64.b64decode(KEY_SECRET)
    key_id = hashlib.sha256(b"credledger/learner-key-id\n" + secret).hexdigest()[:8]
    expected = hmac.new(secret, b"emailAddress\nada@example.org", hashlib.sha256).hexdigest()
    assert LearnerKeys(KEY_SECRET).key("emailAddress", "ada@example.org") == f"lk${key_id}${expected}"
    token_key = hmac.new(base64.b64decode(MASTER), b"credledger/issuance/holder-token/v1", hashlib.sha256).digest()
    digest = hmac.new(token_key, b"urn:uuid:1", hashlib.sha256).digest()
    assert SECRETS.holder_token("urn:uuid:1") == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
