"""Learner identities, learner keys and learner links.

The credential names its learner only by an Open Badges 3.0 IdentityObject:
`sha256$hex(sha256(identity + salt))` with a salt drawn at random for every
credential. Two credentials of one learner, from one issuer or from two,
therefore carry unrelated identityHash values: nothing published links them.

What does link them, inside the platform only, is the learner key: an
HMAC-SHA256 of the normalised identity under the platform's learner-key
secret (`CREDLEDGER_LEARNER_KEY_SECRET`). Stacking, pathway progress and
learner lookups match on it; it is never written into a credential, a
ledger event or a public answer. Each key carries the id of the secret it
was made with (`lk$<key id>$<hex>`), so a new secret can be introduced while
keys made with a previous one still match: whenever the platform sees the
identity again (at its next issuance), it re-keys that learner's rows
to the current secret (see docs/identity.md).

A learner link token lets the holder fetch a credential without an API key.
It is derived from the credential id with another secret: only its hash is
stored, yet a retried request can hand the same link out again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.issuance.schemas import LearnerIdentity
from shared.credential_format import identity_hash, normalise_identity
from shared.refusals import Invalid
from shared.settings import Settings

EMAIL = "emailAddress"
NATIONAL_ID = "nationalIdentityNumber"
LEARNER_KEY = re.compile(r"^lk\$[0-9a-z]{1,16}\$[0-9a-f]{64}$")

# A pragmatic address check (not RFC 5322): a local part without spaces or
# specials, and a dotted domain name ending in an alphabetic top-level label.
_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\\\]]{1,64}@(?=.{1,253}$)"
    r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# After normalisation (spaces removed, upper case): letters and digits with
# the separators national schemes print (IE "1234567TA", ES "12345678-Z").
_NATIONAL_ID = re.compile(r"^[A-Z0-9][A-Z0-9./-]{3,39}$")


class LearnerIdentityInvalid(Invalid):
    default_code = "learner-identity-invalid"
    default_title = "The learner identity is not well-formed"


@dataclass(frozen=True, slots=True)
class Learner:
    identity_type: str
    salt: str
    # The credential's identityHash (public, different in every credential).
    learner_hash: str
    # The platform's internal key for this learner (never published), and
    # its keys under superseded secrets, which rows may still carry.
    learner_key: str
    superseded_keys: tuple[str, ...] = ()
    # The normalised address of a learner identified by email, kept (sealed)
    # for claim emails only (services/issuance/contacts.py).
    contact: str | None = None


def parse_identity(identity: LearnerIdentity) -> tuple[str, str]:
    """(identity type, normalised value), or a 422 saying what is wrong.

    The details never repeat the value: refusals are logged.
    """
    given = [(kind, value) for kind, value in ((EMAIL, identity.email), (NATIONAL_ID, identity.national_id))
             if value is not None]
    if len(given) != 1:
        raise LearnerIdentityInvalid("give exactly one of learner.email and learner.national_id")
    kind, value = given[0]
    normalised = normalise_identity(kind, value)
    if kind == EMAIL and not _EMAIL.match(normalised):
        raise LearnerIdentityInvalid("learner.email is not an email address (name@domain.tld)")
    if kind == NATIONAL_ID and not _NATIONAL_ID.match(normalised):
        raise LearnerIdentityInvalid("learner.national_id is not a national id (4-40 letters and digits)")
    return kind, normalised


def fresh_salt() -> str:
    return os.urandom(16).hex()


class LearnerKeys:
    """Keyed learner hashes under the current secret and the superseded ones."""

    def __init__(self, current_b64: str, previous_b64: Sequence[str] = (), legacy_master_b64: str = "") -> None:
        self._current = _secret(current_b64)
        self._previous = [_secret(s) for s in previous_b64]
        # Before learner keys existed, the platform matched learners by an
        # identityHash whose salt it derived from the master key; those rows
        # carry that hash as their key until the learner is seen again.
        self._legacy = _derive(base64.b64decode(legacy_master_b64), b"credledger/issuance/learner-salt/v1") \
            if legacy_master_b64 else None

    def key(self, kind: str, normalised: str) -> str:
        return _keyed(self._current, kind, normalised)

    def superseded(self, kind: str, normalised: str) -> list[str]:
        """This learner's keys under every secret that is no longer current."""
        keys = [_keyed(secret, kind, normalised) for secret in self._previous]
        if self._legacy is not None:
            salt = hmac.digest(self._legacy, f"{kind}\n{normalised}".encode(), "sha256").hex()[:32]
            keys.append(identity_hash(kind, normalised, salt))
        return keys


def learner_keys(settings: Settings) -> LearnerKeys:
    """The learner keys the settings configure.

    Outside production (where the secret is required) a missing secret is
    derived from the master key, so a test or bench setup needs one secret less.
    """
    if settings.environment == "production" and not settings.learner_key_secret:
        raise SystemExit("invalid configuration: CREDLEDGER_LEARNER_KEY_SECRET must be set in production")
    current = settings.learner_key_secret or base64.b64encode(
        _derive(base64.b64decode(settings.master_key), b"credledger/issuance/learner-key/v1")).decode()
    previous = [s.strip() for s in settings.learner_key_previous_secrets.split(",") if s.strip()]
    return LearnerKeys(current, previous, legacy_master_b64=settings.master_key)


class LearnerSecrets:
    """Learner keys, and link tokens derived from the platform master key."""

    def __init__(self, master_key_b64: str, keys: LearnerKeys) -> None:
        self.keys = keys
        self._token_key = _derive(base64.b64decode(master_key_b64), b"credledger/issuance/holder-token/v1")

    def learner(self, identity: LearnerIdentity, salt: str | None = None) -> Learner:
        """The learner, with a fresh salt unless an issuer-signed credential brings its own."""
        kind, normalised = parse_identity(identity)
        salt = fresh_salt() if salt is None else salt
        return Learner(kind, salt, identity_hash(kind, normalised, salt), self.keys.key(kind, normalised),
                       tuple(self.keys.superseded(kind, normalised)), normalised if kind == EMAIL else None)

    def holder_token(self, credential_id: str) -> str:
        digest = hmac.digest(self._token_key, credential_id.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def rekeyings(learners: Iterable[Learner]) -> list[tuple[str, str]]:
    """(superseded key, current key) for every key these learners' rows may still carry."""
    return [(old, learner.learner_key) for learner in learners for old in learner.superseded_keys]


def key_families(keys: Iterable[str]) -> list[tuple[str, str]]:
    """(first, bound) of every family these learner keys belong to.

    A family is what a key holds up to its last `$`: `sha256$` (the keys from
    before learner keys) or `lk$<key id>$` (one secret's keys). Every key of a
    family sorts, byte-wise, at or after `first` and before `bound` (`$` + 1
    is `%`), so one index range finds whether any row still carries one.
    """
    families = sorted({key[:key.rindex("$") + 1] for key in keys})
    return [(family, family[:-1] + chr(ord("$") + 1)) for family in families]


def same_learner(learner: Learner, learner_key: str) -> bool:
    return learner_key == learner.learner_key or learner_key in learner.superseded_keys


def _secret(secret_b64: str) -> tuple[str, bytes]:
    """(key id, secret): the id is a fingerprint, so no operator has to pick one."""
    secret = base64.b64decode(secret_b64, validate=True)
    if len(secret) < 32:
        raise ValueError("a learner-key secret must be at least 32 bytes, base64-encoded")
    return hashlib.sha256(b"credledger/learner-key-id\n" + secret).hexdigest()[:8], secret


def _keyed(secret: tuple[str, bytes], kind: str, normalised: str) -> str:
    key_id, key = secret
    # hmac.digest: OpenSSL's one-shot HMAC, the same bytes as hmac.new at a
    # third of the cost, paid three times per credential a batch issues.
    digest = hmac.digest(key, f"{kind}\n{normalised}".encode(), "sha256").hex()
    return f"lk${key_id}${digest}"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, purpose, hashlib.sha256).digest()
