"""W3C Data Integrity cryptosuite ``eddsa-rdfc-2022`` (https://www.w3.org/TR/vc-di-eddsa/),
and the legacy ``Ed25519Signature2020`` suite, which hashes the same way.

Both sign SHA-256(RDFC-1.0(proof config)) || SHA-256(RDFC-1.0(document)),
where the proof config always carries the document's ``@context``. The two
hashes are separate functions because a bulk signer reuses one proof hash
for every credential of a job (same key, time and context), and a proof
set shares one document hash between its proofs.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.crypto.ed25519_signing import Signs
from shared.crypto.eddsa_jcs import (
    PROOF_TYPE,
    SIGNATURE_LENGTH,
    OptionsHashes,
    PreparedProof,
    build_proof_config,
    is_datetime_stamp,
    starts_with,
)
from shared.crypto.jcs import canonicalize
from shared.crypto.multibase import multibase_decode, multibase_encode
from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc import canonical_nquads

CRYPTOSUITE: Final = "eddsa-rdfc-2022"
LEGACY_PROOF_TYPE: Final = "Ed25519Signature2020"


def proof_config(
    document: dict[str, Any], verification_method: str, created: str, proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """The proof options that get signed (everything but proofValue)."""
    return build_proof_config(document, verification_method, created, proof_purpose, CRYPTOSUITE)


def document_hash(unsecured: dict[str, Any], loader: ContextLoader) -> bytes:
    return hashlib.sha256(canonical_nquads(unsecured, loader)).digest()


def proof_hash(config: dict[str, Any], loader: ContextLoader) -> bytes:
    return hashlib.sha256(canonical_nquads(config, loader)).digest()


class ProofHashes:
    """Proof hashes by proof options, for a verifier: credentials signed by one
    key at one time share their options, and RDFC of the options costs as
    much as of a small document (the contexts dominate)."""

    def __init__(self, loader: ContextLoader, limit: int = 10_000) -> None:
        self.loader = loader
        self._limit = limit
        self._hashes: dict[bytes, bytes] = {}
        # The eddsa-jcs-2022 proofs of a proof set, or alone: their options' hashes.
        self.jcs_options = OptionsHashes(limit)

    def of(self, options: dict[str, Any]) -> bytes:
        key = canonicalize(options)
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= self._limit:
                self._hashes.clear()  # many signers: start over rather than grow without bound
            found = self._hashes[key] = proof_hash(options, self.loader)
        return found


def signed_proof(config: dict[str, Any], config_hash: bytes, doc_hash: bytes, key: Signs) -> dict[str, Any]:
    """The proof: `config` with its proofValue, from the two hashes, and
    without the @context it was hashed with (that is the document's)."""
    proof = {name: value for name, value in config.items() if name != "@context"}
    return {**proof, "proofValue": multibase_encode(key.sign(config_hash + doc_hash))}


def sign(
    unsecured: dict[str, Any], key: Ed25519PrivateKey, verification_method: str, created: str,
    loader: ContextLoader, proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """One eddsa-rdfc-2022 proof over `unsecured` (a document without `proof`)."""
    config = proof_config(unsecured, verification_method, created, proof_purpose)
    return signed_proof(config, proof_hash(config, loader), document_hash(unsecured, loader), key)


def is_own_proof(proof: Any, proof_purpose: str = "assertionMethod") -> bool:
    if not isinstance(proof, dict):
        return False
    suite_ok = (proof.get("type") == PROOF_TYPE and proof.get("cryptosuite") == CRYPTOSUITE) or (
        proof.get("type") == LEGACY_PROOF_TYPE and "cryptosuite" not in proof)
    return (
        suite_ok
        and proof.get("proofPurpose") == proof_purpose
        and isinstance(proof.get("verificationMethod"), str)
        and isinstance(proof.get("proofValue"), str)
        and ("created" not in proof or is_datetime_stamp(proof["created"]))
    )


def prepare_proof(
    unsecured: dict[str, Any], proof: Any, hashes: ProofHashes, doc_hash: bytes | None = None,
    proof_purpose: str = "assertionMethod",
) -> PreparedProof | None:
    """Prepare one proof over the document without its proofs; None if it is not
    one of these suites. `doc_hash` saves recanonicalizing a document whose
    context the proof does not change.

    Raises ValueError for an undecodable proofValue or a document that is not
    JSON-LD over the bundled contexts.
    """
    if not is_own_proof(proof, proof_purpose):
        return None
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    if "@context" in options:
        if not starts_with(unsecured.get("@context"), options["@context"]):
            return None
        if options["@context"] != unsecured.get("@context"):
            unsecured, doc_hash = {**unsecured, "@context": options["@context"]}, None
    elif "@context" in unsecured:
        options["@context"] = unsecured["@context"]
    signature = multibase_decode(proof["proofValue"], size=SIGNATURE_LENGTH)
    if doc_hash is None:
        doc_hash = document_hash(unsecured, hashes.loader)
    return PreparedProof(proof["verificationMethod"], hashes.of(options) + doc_hash, signature)
