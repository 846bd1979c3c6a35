"""W3C Data Integrity cryptosuite ``eddsa-jcs-2022`` (https://www.w3.org/TR/vc-di-eddsa/).

The two costly steps, JCS canonicalization and Ed25519, are deliberately
separate public functions so that bulk callers can schedule them apart:
:func:`prepare_verification` does all the JSON work and yields a small
:class:`PreparedProof`; :func:`verify_signature` does only the Ed25519 check.
:func:`sign` and :func:`verify` compose them for the single-document case.

Proof sets (this proof beside eddsa-rdfc-2022 ones) are handled by
:mod:`shared.crypto.proof_set`, which uses :func:`prepare_proof` per proof.
Not covered: proof chains (``previousProof``), and resolving
``verificationMethod`` to a key. Callers pass the public key and must
themselves check that the verification method belongs to the issuer.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.crypto.jcs import canonicalize, canonicalize_plain
from shared.crypto.multibase import multibase_decode, multibase_encode, multibase_to_private_seed
from shared.crypto.native import jcsproof

PROOF_TYPE: Final = "DataIntegrityProof"
_ENCODE: Final = msgspec.json.Encoder().encode
CRYPTOSUITE: Final = "eddsa-jcs-2022"
SIGNATURE_LENGTH: Final = 64

# XMLSCHEMA11-2 dateTimeStamp: a dateTime whose timezone is mandatory.
_DATETIME_STAMP: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True, slots=True)
class PreparedProof:
    """A proof with its JCS work done: only the Ed25519 check remains."""

    verification_method: str
    hash_data: bytes
    signature: bytes


class OptionsHashes:
    """SHA-256 of JCS proof options, kept by their content, for a verifier:
    credentials signed by one key at one time share their options, so these
    are canonicalized once rather than once per document.

    Only options of strings (and an @context list of strings) are kept: for
    those, equal content means equal JCS whatever the key order, so the
    content itself is the cache key. Anything else is hashed each time.
    Options that jcs.PlainJsonDecoder decoded and found plain (`plain`) are
    of JSON's own types, which msgspec encodes one way only: their encoding
    is their key (a third of the cost of building the content key).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._hashes: dict[bytes | tuple[tuple[str, str | tuple[str, ...]], ...], bytes] = {}

    def of(self, options: dict[str, Any], *, plain: bool = False) -> bytes:
        key = _plain_key(options) if plain else _content_key(options)
        found = self._hashes.get(key) if key is not None else None
        if found is None:
            found = hashlib.sha256(canonicalize(options)).digest()
            if key is not None:
                if len(self._hashes) >= self._limit:
                    self._hashes.clear()  # many signers: start over rather than grow without bound
                self._hashes[key] = found
        return found


def _plain_key(options: dict[str, Any]) -> bytes | None:
    try:
        return _ENCODE(options)
    except UnicodeEncodeError:
        return None  # a lone surrogate: hashed each time, canonicalize raises


def _content_key(options: dict[str, Any]) -> tuple[tuple[str, str | tuple[str, ...]], ...] | None:
    key: list[tuple[str, str | tuple[str, ...]]] = []
    for name, value in options.items():
        if type(name) is not str:
            return None
        if type(value) is str:
            key.append((name, value))
        elif type(value) is list and all(type(item) is str for item in value):
            key.append((name, tuple(value)))
        else:
            return None
    return tuple(key)


def signing_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Load an Ed25519 signing key from its 32-byte seed (RFC 8032 private key)."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key_from_multibase(private_key_multibase: str) -> Ed25519PrivateKey:
    """Load an Ed25519 signing key from a private Multikey ('z3u2...')."""
    return signing_key_from_seed(multibase_to_private_seed(private_key_multibase))


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    """Return the raw 32-byte public key, the form Multikey and did:key encode."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def build_proof_config(
    document: dict[str, Any],
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
    cryptosuite: str = CRYPTOSUITE,
) -> dict[str, Any]:
    """Build the proof options that get signed (everything but proofValue).

    The document's ``@context`` is copied in because the spec requires it:
    it binds the signature to the vocabulary the document was issued under.
    """
    if not is_datetime_stamp(created):
        raise ValueError(f"created must be an XML Schema dateTimeStamp, got {created!r}")
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": cryptosuite,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        # A copy, so later edits to the document's context cannot silently
        # alter the signed proof options through a shared list.
        config["@context"] = copy.deepcopy(document["@context"])
    return config


def proof_hash_data(document_without_proof: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    """Return SHA-256(JCS(proof_config)) || SHA-256(JCS(document)), the signed bytes.

    The proof hash comes first; the spec fixes this order and the test vectors
    depend on it.
    """
    proof_hash = hashlib.sha256(canonicalize(proof_config)).digest()
    document_hash = hashlib.sha256(canonicalize(document_without_proof)).digest()
    return proof_hash + document_hash


def sign(
    document: dict[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Return a shallow copy of ``document`` with an eddsa-jcs-2022 ``proof`` added.

    Raises ValueError if the document already carries a proof: adding to a
    proof set must hash the document without its existing proofs, which this
    single-proof API does not model.
    """
    if "proof" in document:
        raise ValueError("document already has a proof; proof sets are not supported")
    proof = build_proof_config(document, verification_method, created, proof_purpose)
    signature = private_key.sign(proof_hash_data(document, proof))
    proof["proofValue"] = multibase_encode(signature)
    return {**document, "proof": proof}


def prepare_verification(
    secured_document: Any, proof_purpose: str = "assertionMethod"
) -> PreparedProof | None:
    """Do the JSON half of verification; return None if the proof is malformed.

    Accepts ``proof`` as one object or as a one-element list (Open Badges
    schemas require arrays). Anything that is not an eddsa-jcs-2022
    DataIntegrityProof for ``proof_purpose`` yields None.
    """
    try:
        return _prepare(secured_document, proof_purpose)
    except (ValueError, RecursionError):
        return None  # undecodable proofValue or a document JCS cannot represent


def verify_signature(prepared: PreparedProof, public_key_bytes: bytes) -> bool:
    """Do the Ed25519 half of verification; False for a bad key or signature."""
    return ed25519_verify(public_key_bytes, prepared.signature, prepared.hash_data)


def ed25519_verify(public_key_bytes: bytes, signature: bytes, message: bytes) -> bool:
    """Check an Ed25519 signature, turning every failure into False.

    A wrong-length or non-bytes key is as much "not verified" as a bad
    signature, and verifiers must not crash on attacker-chosen input.
    """
    try:
        Ed25519PublicKey.from_public_bytes(public_key_bytes).verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify(
    secured_document: Any, public_key_bytes: bytes, proof_purpose: str = "assertionMethod"
) -> bool:
    """Verify an eddsa-jcs-2022 secured document; never raises on bad input."""
    prepared = prepare_verification(secured_document, proof_purpose)
    return prepared is not None and verify_signature(prepared, public_key_bytes)


def _prepare(secured_document: Any, proof_purpose: str) -> PreparedProof | None:
    if not isinstance(secured_document, dict):
        return None
    proof = secured_document.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    unsecured = {key: value for key, value in secured_document.items() if key != "proof"}
    return prepare_proof(unsecured, proof, proof_purpose)


def prepare_proof(unsecured: dict[str, Any], proof: Any, proof_purpose: str = "assertionMethod",
                  options_hashes: OptionsHashes | None = None, *, plain: bool = False) -> PreparedProof | None:
    """Prepare one eddsa-jcs-2022 proof over the document without its proofs;
    a bulk verifier passes its `options_hashes` (the same bytes, kept), and
    `plain` for a document jcs.PlainJsonDecoder found plain.

    Raises ValueError for an undecodable proofValue or a document JCS cannot represent.
    """
    if not isinstance(proof, dict) or not _is_own_proof(proof, proof_purpose):
        return None
    proof_options = dict(proof)  # a copy less its proofValue: ~5 times cheaper than filtering every key
    del proof_options["proofValue"]
    if "@context" in proof_options:
        # Spec step: the document may only extend the signed context list, and
        # what gets hashed is the signed list.
        if not starts_with(unsecured.get("@context"), proof_options["@context"]):
            return None
        unsecured = {**unsecured, "@context": proof_options["@context"]}
    signature = multibase_decode(proof["proofValue"], size=SIGNATURE_LENGTH)
    options_hash = (options_hashes.of(proof_options, plain=plain) if options_hashes is not None
                    else hashlib.sha256(canonicalize(proof_options)).digest())
    document = canonicalize_plain(unsecured) if plain else canonicalize(unsecured)
    hash_data = options_hash + hashlib.sha256(document).digest()
    return PreparedProof(proof["verificationMethod"], hash_data, signature)


def prepare_native(secured: dict[str, Any], proof: dict[str, Any],
                   proof_purpose: str = "assertionMethod") -> tuple[str, bytes, bytes] | None:
    """(verificationMethod, hash data, signature) of `secured`'s one proof,
    `proof`, as `prepare_proof` finds them, from one native call
    (_jcsproof.c). None where Python must decide: no accelerator, a proof
    of another suite or purpose, or anything it cannot be sure of (then
    prepare_proof gives the answer or the refusal, as without it)."""
    if jcsproof is None:
        return None
    done = jcsproof.prepare_jcs(secured, proof, proof_purpose)
    if done is None or ("created" in proof and not is_datetime_stamp(proof["created"])):
        return None
    return done


def _is_own_proof(proof: dict[str, Any], proof_purpose: str) -> bool:
    return (
        proof.get("type") == PROOF_TYPE
        and proof.get("cryptosuite") == CRYPTOSUITE
        and proof.get("proofPurpose") == proof_purpose
        and isinstance(proof.get("verificationMethod"), str)
        and isinstance(proof.get("proofValue"), str)
        and ("created" not in proof or is_datetime_stamp(proof["created"]))
    )


def starts_with(document_context: Any, proof_context: Any) -> bool:
    """Whether the document's context list begins with the proof's."""
    document_list = _as_list(document_context)
    proof_list = _as_list(proof_context)
    return document_list[: len(proof_list)] == proof_list


def _as_list(context: Any) -> list[Any]:
    if context is None:
        return []
    return context if isinstance(context, list) else [context]


def is_datetime_stamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    # Documents signed together share their `created`: short values are
    # looked up (long ones are checked each time, so the cache stays small).
    return _is_short_stamp(value) if len(value) <= _CACHED_STAMP_LENGTH else _is_stamp(value)


_CACHED_STAMP_LENGTH: Final = 64


@functools.lru_cache(maxsize=1024)
def _is_short_stamp(value: str) -> bool:
    return _is_stamp(value)


def _is_stamp(value: str) -> bool:
    if not _DATETIME_STAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)  # rejects impossible dates like Feb 30
    except ValueError:
        return False
    return True
