"""A status list credential's RDFC-1.0 from its prototype is the library's,
byte for byte, whatever the list's bits and time, and its proof set verifies."""

from __future__ import annotations

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.revocation.status_lists import LIST_LEAVES, status_list_credential
from shared.crypto.proof_set import ProofSetSigner, prepare_proof_set
from shared.jsonld import rdfc
from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc_prototypes import RdfcPrototypes
from shared.statuslist import Bitstring

BASE = "https://ledger.example"


def _list(bits: Bitstring, valid_from: str) -> dict:
    return status_list_credential(f"{BASE}/status-lists/l1", "did:web:ledger.example:issuers:u1", "revocation",
                                  bits.encode(), valid_from)


def test_the_prototype_gives_the_library_nquads_for_every_signing():
    loader = ContextLoader(BASE)
    prototypes = RdfcPrototypes(loader, LIST_LEAVES)
    bits = Bitstring()
    for n, moment in enumerate(["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2027-06-30T12:34:56Z"]):
        bits.set(n * 977)
        document = _list(bits, moment)
        assert prototypes.canonical_nquads(document) == rdfc.canonical_nquads(document, loader)


def test_a_list_signed_through_the_prototype_verifies():
    loader = ContextLoader(BASE)
    key = Ed25519PrivateKey.generate()
    bits = Bitstring()
    bits.set(5)
    signer = ProofSetSigner(key, "did:web:ledger.example:issuers:u1#k1", "2026-01-01T00:00:00Z", loader,
                            canonical_nquads=RdfcPrototypes(loader, LIST_LEAVES).canonical_nquads)
    secured = msgspec.json.decode(signer.secure(_list(bits, "2026-01-01T00:00:00Z")))
    prepared = prepare_proof_set(secured, loader)
    assert prepared is not None and len(prepared) == 2
    public = key.public_key()
    for proof in prepared:
        public.verify(proof.signature, proof.hash_data)  # raises if it does not verify
