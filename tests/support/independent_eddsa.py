"""An independent verifier of W3C Data Integrity `eddsa-jcs-2022` proofs
(`independent_rdfc` does eddsa-rdfc-2022 and proof sets).

Written from the spec text (W3C "Data Integrity EdDSA Cryptosuites v1.0",
section 3.3 "eddsa-jcs-2022": Verify Proof, Transformation, Hashing, Proof
Configuration, Proof Verification) and deliberately sharing no code with
`shared/crypto`: its own base58btc, its own multikey decoding, RFC 8785 via
the `rfc8785` reference package, SHA-256 from hashlib and Ed25519 from
`cryptography`. If the platform's signer and this disagree, one of them has
the spec wrong.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PUB_MULTICODEC = bytes([0xED, 0x01])


def base58btc_decode(text: str) -> bytes:
    """Bitcoin base58: big-endian base-58 digits; each leading '1' is a zero byte."""
    value = 0
    for char in text:
        value = value * 58 + _ALPHABET.index(char)
    leading = len(text) - len(text.lstrip("1"))
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes(leading) + body


def multibase_decode(text: str) -> bytes:
    """Only the base58btc multibase ('z' header) is allowed for these proofs."""
    if not text.startswith("z"):
        raise ValueError("not base58btc multibase")
    return base58btc_decode(text[1:])


def public_key_from_multikey(multikey: str) -> bytes:
    decoded = multibase_decode(multikey)
    if decoded[:2] != _ED25519_PUB_MULTICODEC or len(decoded) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return decoded[2:]


def verify(secured_document: dict[str, Any], public_key: bytes, expected_purpose: str = "assertionMethod") -> bool:
    """Verify Proof (eddsa-jcs-2022): True only if every step of the spec passes."""
    proof = secured_document.get("proof")
    if isinstance(proof, list):
        if len(proof) != 1:
            return False
        proof = proof[0]
    unsecured = {k: copy.deepcopy(v) for k, v in secured_document.items() if k != "proof"}
    return verify_proof(unsecured, proof, public_key, expected_purpose)


def verify_proof(unsecured: dict[str, Any], proof: Any, public_key: bytes,
                 expected_purpose: str = "assertionMethod") -> bool:
    """One eddsa-jcs-2022 proof over the document without any proof (a proof set's member)."""
    if not isinstance(proof, dict) or "proofValue" not in proof:
        return False
    if (proof.get("type"), proof.get("cryptosuite")) != ("DataIntegrityProof", "eddsa-jcs-2022"):
        return False
    if proof.get("proofPurpose") != expected_purpose:
        return False
    # Step 1-2: the unsecured document, and the proof options without proofValue.
    unsecured = copy.deepcopy(unsecured)
    options = {k: copy.deepcopy(v) for k, v in proof.items() if k != "proofValue"}
    try:
        signature = multibase_decode(proof["proofValue"])
    except ValueError:
        return False
    # Step 4: the proof's @context must be a prefix of the document's, and is what gets hashed.
    if "@context" in options:
        document_context = unsecured.get("@context")
        document_context = document_context if isinstance(document_context, list) else [document_context]
        proof_context = options["@context"] if isinstance(options["@context"], list) else [options["@context"]]
        if document_context[:len(proof_context)] != proof_context:
            return False
        unsecured["@context"] = options["@context"]
    # Transformation and proof configuration: RFC 8785 JCS. Hashing: SHA-256 of
    # each, the proof configuration's hash first.
    try:
        hash_data = (hashlib.sha256(rfc8785.dumps(options)).digest()
                     + hashlib.sha256(rfc8785.dumps(unsecured)).digest())
    except rfc8785.CanonicalizationError:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, hash_data)
    except (InvalidSignature, ValueError):
        return False
    return True
