"""Proof sets (W3C VC Data Integrity §2.1.2): several proofs, each over the
document without any of them.

The platform signs every credential with an eddsa-rdfc-2022 proof (what
RDF-based verifiers such as the DCC's and 1EdTech's check) and an
eddsa-jcs-2022 one (cheap to check, and what credentials issued before proof
sets carry). Verification accepts sets of eddsa-rdfc-2022, eddsa-jcs-2022
and Ed25519Signature2020 proofs, or one such proof given as an object, and
every proof must verify.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, Final

import msgspec

from shared.crypto import eddsa_jcs, eddsa_rdfc
from shared.crypto.ed25519_signing import Signs
from shared.crypto.eddsa_jcs import PreparedProof, ed25519_verify
from shared.crypto.eddsa_rdfc import ProofHashes
from shared.crypto.jcs import canonicalize
from shared.crypto.multibase import multibase_encode
from shared.jsonld import rdfc
from shared.jsonld.contexts import ContextLoader

SUPPORTED: Final = "eddsa-rdfc-2022, eddsa-jcs-2022 or Ed25519Signature2020"


class ProofSetSigner:
    """Secures documents with an eddsa-rdfc-2022 and an eddsa-jcs-2022 proof,
    by one key at one time (or the eddsa-jcs-2022 proof alone, as one object, with
    `with_rdfc=False`: what credentials issued before proof sets carry).

    The proof options, and so their hashes, depend only on the key, the time
    and the document's context: they are computed once per context, which
    halves the RDFC work of a batch. `canonical_nquads` may replace the
    document's RDFC-1.0 (a bulk signer's faster route to the same bytes); it
    gets the document as built, which may embed canonical JSON as
    msgspec.Raw, and must canonicalize it as published (as any verifier
    parses the JCS bytes: 5.0 read back as 5).
    """

    def __init__(self, key: Signs, verification_method: str, created: str, loader: ContextLoader,
                 proof_purpose: str = "assertionMethod",
                 canonical_nquads: Callable[[dict[str, Any]], bytes] | None = None, *, with_rdfc: bool = True) -> None:
        self._canonical_nquads = canonical_nquads or functools.partial(rdfc.published_nquads, loader=loader)
        self._key = key
        self._method = verification_method
        self._created = created
        self._purpose = proof_purpose
        self._loader = loader
        self._rdfc = with_rdfc
        self._configs: dict[bytes, tuple[dict[str, Any], bytes, dict[str, Any], bytes]] = {}

    def secure(self, unsecured: dict[str, Any]) -> bytes:
        """The RFC 8785 bytes of `unsecured` with its proof set added.

        The document is canonicalized once, in two halves around where
        `proof` sorts, so the unsigned bytes (hashed) and the signed ones
        (returned) are joined from the same pieces rather than encoded twice.
        """
        before, after = _halves(unsecured)
        rdfc_config, rdfc_hash, jcs_config, jcs_hash = self._proof_configs(unsecured.get("@context"))
        jcs_signature = self._key.sign(jcs_hash + hashlib.sha256(_joined(before, after)).digest())
        jcs_proof = {**jcs_config, "proofValue": multibase_encode(jcs_signature)}
        if not self._rdfc:
            return _joined(before, b'"proof":' + canonicalize(jcs_proof), after)
        document_hash = hashlib.sha256(self._canonical_nquads(unsecured)).digest()
        rdfc_proof = eddsa_rdfc.signed_proof(rdfc_config, rdfc_hash, document_hash, self._key)
        return _joined(before, b'"proof":' + canonicalize([rdfc_proof, jcs_proof]), after)

    def _proof_configs(self, context: Any) -> tuple[dict[str, Any], bytes, dict[str, Any], bytes]:
        cache_key = canonicalize(context)
        cached = self._configs.get(cache_key)
        if cached is None:
            shape = {"@context": msgspec.json.decode(cache_key)}  # as published
            rdfc_config = eddsa_rdfc.proof_config(shape, self._method, self._created, self._purpose)
            jcs_config = eddsa_jcs.build_proof_config(shape, self._method, self._created, self._purpose)
            cached = self._configs[cache_key] = (
                rdfc_config, eddsa_rdfc.proof_hash(rdfc_config, self._loader) if self._rdfc else b"",
                jcs_config, hashlib.sha256(canonicalize(jcs_config)).digest())
        return cached


def _halves(document: dict[str, Any]) -> tuple[bytes, bytes]:
    """The JCS members of `document` that sort before `proof`, and after it
    (ASCII "proof" sorts alike by code point and by UTF-16 unit)."""
    if "proof" in document:
        raise ValueError("document already has a proof")
    before = canonicalize({k: v for k, v in document.items() if k < "proof"})
    after = canonicalize({k: v for k, v in document.items() if k > "proof"})
    return before[1:-1], after[1:-1]


def _joined(*members: bytes) -> bytes:
    """A JCS object from runs of its members, already in order."""
    return b"{" + b",".join(run for run in members if run) + b"}"


def proofs_of(secured: Any) -> list[Any] | None:
    """The proofs of a secured document (`proof` may be one object), or None."""
    if not isinstance(secured, dict):
        return None
    proof = secured.get("proof")
    if type(proof) is dict:  # one proof, as most documents carry
        return [proof]
    proofs = proof if isinstance(proof, list) else [proof]
    return proofs if proofs and all(isinstance(p, dict) for p in proofs) else None


def prepare_proof_set(
    secured: Any, hashes: ContextLoader | ProofHashes, proof_purpose: str = "assertionMethod", *,
    plain: bool = False,
) -> list[PreparedProof] | None:
    """Every proof prepared for its Ed25519 check, or None if any proof is
    malformed or of another suite (a set is only as good as its every proof).
    A bulk verifier passes its ProofHashes, and `plain` for a document that
    jcs.PlainJsonDecoder found plain; a one-off check, a loader."""
    if isinstance(hashes, ContextLoader):
        hashes = ProofHashes(hashes)
    loader = hashes.loader
    lone = secured.get("proof") if isinstance(secured, dict) else None
    if type(lone) is dict and (done := eddsa_jcs.prepare_native(secured, lone, proof_purpose)) is not None:
        return [PreparedProof(*done)]  # most documents: one eddsa-jcs-2022 proof
    proofs = proofs_of(secured)
    if proofs is None:
        return None
    unsecured = dict(secured)  # a copy less its proofs (proofs_of found them): cheaper than filtering every key
    del unsecured["proof"]
    prepared: list[PreparedProof] = []
    rdfc_document_hash: bytes | None = None
    try:
        for proof in proofs:
            if eddsa_rdfc.is_own_proof(proof, proof_purpose):
                if rdfc_document_hash is None:
                    rdfc_document_hash = eddsa_rdfc.document_hash(unsecured, loader)
                one = eddsa_rdfc.prepare_proof(unsecured, proof, hashes, rdfc_document_hash, proof_purpose)
            else:
                one = eddsa_jcs.prepare_proof(unsecured, proof, proof_purpose, hashes.jcs_options, plain=plain)
            if one is None:
                return None
            prepared.append(one)
    except (ValueError, TypeError, RecursionError):
        return None  # undecodable proofValue, or not JSON-LD / JCS representable
    return prepared


def verification_method_of(prepared: list[PreparedProof]) -> str | None:
    """The one key a set is signed with; None when its proofs name several."""
    if len(prepared) == 1:
        return prepared[0].verification_method
    methods = {proof.verification_method for proof in prepared}
    return methods.pop() if len(methods) == 1 else None


def verify(secured: Any, public_key: bytes, loader: ContextLoader, proof_purpose: str = "assertionMethod") -> bool:
    """Whether every proof of `secured` verifies with `public_key`; never raises on bad input."""
    prepared = prepare_proof_set(secured, loader, proof_purpose)
    return bool(prepared) and all(ed25519_verify(public_key, p.signature, p.hash_data) for p in prepared or ())
