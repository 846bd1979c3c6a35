"""Learner identities and learner links.

The credential names its learner only by an Open Badges IdentityObject: a
salted SHA-256 of the email or national id. The salt is derived from the
identity with a platform secret, so the same learner gets the same
`learner_hash` from every issuer (stacking across issuers needs that) while
nobody without the secret can precompute hashes of known emails.

A learner link token lets the holder fetch a credential without an API key.
It is derived from the credential id with another secret: only its hash is
stored, yet a retried request can hand the same link out again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from services.issuance.schemas import LearnerIdentity
from shared.credential_format import identity_hash, normalise_identity
from shared.http.problem import Problem

EMAIL = "emailAddress"
NATIONAL_ID = "nationalIdentityNumber"

# A pragmatic address check (not RFC 5322): a local part without spaces or
# specials, and a dotted domain name ending in an alphabetic top-level label.
_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\\\]]{1,64}@(?=.{1,253}$)"
    r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
# After normalisation (spaces removed, upper case): letters and digits with
# the separators national schemes print (IE "1234567TA", ES "12345678-Z").
_NATIONAL_ID = re.compile(r"^[A-Z0-9][A-Z0-9./-]{3,39}$")


class LearnerIdentityInvalid(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "learner-identity-invalid", "The learner identity is not well-formed", detail)


@dataclass(frozen=True, slots=True)
class Learner:
    identity_type: str
    salt: str
    learner_hash: str


def parse_identity(identity: LearnerIdentity) -> tuple[str, str]:
    """(identity type, normalised value), or a 422 saying what is wrong."""
    given = [(kind, value) for kind, value in ((EMAIL, identity.email), (NATIONAL_ID, identity.national_id))
             if value is not None]
    if len(given) != 1:
        raise LearnerIdentityInvalid("give exactly one of learner.email and learner.national_id")
    kind, value = given[0]
    normalised = normalise_identity(kind, value)
    if kind == EMAIL and not _EMAIL.match(normalised):
        raise LearnerIdentityInvalid(f"learner.email {value!r} is not an email address")
    if kind == NATIONAL_ID and not _NATIONAL_ID.match(normalised):
        raise LearnerIdentityInvalid(
            f"learner.national_id {value!r} is not a national id (4-40 letters and digits)")
    return kind, normalised


class LearnerSecrets:
    """Keys derived from the platform master key, one per purpose."""

    def __init__(self, master_key_b64: str) -> None:
        master = base64.b64decode(master_key_b64)
        self._salt_key = _derive(master, b"credledger/issuance/learner-salt/v1")
        self._token_key = _derive(master, b"credledger/issuance/holder-token/v1")

    def learner(self, identity: LearnerIdentity) -> Learner:
        kind, normalised = parse_identity(identity)
        salt = hmac.new(self._salt_key, f"{kind}\n{normalised}".encode(), hashlib.sha256).hexdigest()[:32]
        return Learner(kind, salt, identity_hash(kind, normalised, salt))

    def holder_token(self, credential_id: str) -> str:
        digest = hmac.new(self._token_key, credential_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, purpose, hashlib.sha256).digest()
