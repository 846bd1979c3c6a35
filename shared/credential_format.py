"""Conventions every service agrees on for credentials: identifiers, DIDs,
verification methods, learner identity hashes and status list URLs."""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from urllib.parse import quote, urlsplit

from shared.refusals import Malformed

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
IDENTITY_HASH_PREFIX = "sha256$"
# VC 2.0 registers application/vc for a credential secured with an embedded
# proof; VC-JOSE-COSE registers application/vc+jwt, which takes no charset.
VC_MEDIA_TYPE = "application/vc"
JWT_MEDIA_TYPE = "application/vc+jwt"


def new_credential_id() -> str:
    """A random (version 4) UUID URN, as str(uuid.uuid4()) spells it: built
    from the 16 random bytes directly, without the UUID object and its
    formatting, which cost a bulk issuance's event loop ~2.5 x as much."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_credential_id(raw: str) -> str | None:
    """The canonical form ('urn:uuid:' and a lower-case UUID) of a credential
    id given with or without its prefix, in any case; None when `raw` is not
    one (braces, missing hyphens and other spellings of a UUID are not)."""
    value = raw.removeprefix("urn:uuid:")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return f"urn:uuid:{parsed}" if str(parsed) == value.lower() else None


def not_a_credential_id(raw: str) -> Malformed:
    return Malformed(f"{raw!r} is not a credential id; expected 'urn:uuid:' followed by a UUID")


def required_credential_id(raw: str) -> str:
    """`parse_credential_id`, refusing what is not a credential id."""
    credential_id = parse_credential_id(raw)
    if credential_id is None:
        raise not_a_credential_id(raw)
    return credential_id


def issuer_did(public_base_url: str, issuer_id: str) -> str:
    """did:web for an issuer, resolved at {base}/issuers/{id}/did.json."""
    host = quote(urlsplit(public_base_url).netloc, safe="")  # "host%3A8080" per did:web
    return f"did:web:{host}:issuers:{issuer_id}"


def issuer_id_from_did(did: str) -> str | None:
    parts = did.split(":")
    if len(parts) >= 5 and parts[:2] == ["did", "web"] and parts[-2] == "issuers":
        return parts[-1]
    return None


def verification_method(did: str, key_id: str) -> str:
    return f"{did}#{key_id}"


def split_verification_method(method: str) -> tuple[str, str]:
    did, _, fragment = method.partition("#")
    return did, fragment


def normalise_identity(kind: str, value: str) -> str:
    """Emails compare case-insensitively; national ids ignore spacing and case."""
    value = unicodedata.normalize("NFC", value).strip()
    if kind == "emailAddress":
        return value.lower()
    return "".join(value.split()).upper()


def identity_hash(kind: str, value: str, salt: str) -> str:
    """Open Badges 3.0 IdentityObject hash: 'sha256$' + hex(SHA-256(identity || salt))."""
    digest = hashlib.sha256((normalise_identity(kind, value) + salt).encode()).hexdigest()
    return IDENTITY_HASH_PREFIX + digest


def document_hash(canonical_document: bytes) -> str:
    return hashlib.sha256(canonical_document).hexdigest()


def status_list_url(public_base_url: str, list_id: str) -> str:
    return f"{public_base_url.rstrip('/')}/status-lists/{list_id}"
