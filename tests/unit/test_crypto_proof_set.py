"""eddsa-rdfc-2022, Ed25519Signature2020 and proof sets against the W3C and
Open Badges vectors, and beside an independent (pyld-based) verifier."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from shared.crypto import eddsa_rdfc, proof_set
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_multibase, signing_key_from_seed
from shared.crypto.multibase import multibase_to_public_key
from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc import NotCanonicalizable, canonical_nquads
from tests.support import independent_rdfc

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
EDDSA, OB = VECTORS / "eddsa", VECTORS / "openbadges" / "ldp-eddsa-rdfc-2022"
LOADER = ContextLoader("https://ledger.example")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def w3c_key():
    return signing_key_from_multibase(load(EDDSA / "keyPair.json")["privateKeyMultibase"])


def ob_key():
    return signing_key_from_seed(bytes.fromhex(load(OB / "keypair.json")["privateKeyHex_seed_plus_public"])[:32])


def without_proof(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "proof"}


@pytest.mark.parametrize("document, canon", [
    (EDDSA / "unsigned.json", EDDSA / "eddsa-rdfc-2022" / "canonDocDataInt.txt"),
    (EDDSA / "eddsa-rdfc-2022" / "proofConfigDataInt.json", EDDSA / "eddsa-rdfc-2022" / "proofCanonDataInt.txt"),
    (OB / "unsigned.json", OB / "document-canon.txt"),
    (EDDSA / "Ed25519Signature2020" / "proofConfigEdSig.json", EDDSA / "Ed25519Signature2020" / "proofCanonEdSig.txt"),
])
def test_rdfc_reproduces_the_canonical_nquads_of_the_vectors(document, canon):
    assert canonical_nquads(load(document), LOADER) == canon.read_bytes()
    assert independent_rdfc.canonize(load(document)) == canon.read_bytes()


def test_signing_reproduces_the_w3c_rdfc_vector_exactly():
    unsigned = load(EDDSA / "unsigned.json")
    config = load(EDDSA / "eddsa-rdfc-2022" / "proofConfigDataInt.json")
    proof = eddsa_rdfc.sign(unsigned, w3c_key(), config["verificationMethod"], config["created"], LOADER)
    assert proof == load(EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json")["proof"]
    assert eddsa_rdfc.document_hash(unsigned, LOADER).hex() == (
        EDDSA / "eddsa-rdfc-2022" / "docHashDataInt.txt").read_text().strip()


def test_signing_reproduces_the_open_badges_rdfc_vector_exactly():
    unsigned, options = load(OB / "unsigned.json"), load(OB / "proof-options.json")
    proof = eddsa_rdfc.sign(unsigned, ob_key(), options["verificationMethod"], options["created"], LOADER)
    assert proof["proofValue"] == load(OB / "expected.json")["proofValue"] == load(OB / "signed.json")["proof"]["proofValue"]


@pytest.mark.parametrize("signed, public_key", [
    (EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json", "w3c"),
    (EDDSA / "Ed25519Signature2020" / "signedEdSig.json", "w3c"),
    (OB / "signed.json", "ob"),
    (VECTORS / "openbadges" / "validator-samples" / "simple.json", "fragment"),
])
def test_vectors_verify_and_any_change_fails(signed, public_key):
    document = load(signed)
    proof = document["proof"][0] if isinstance(document["proof"], list) else document["proof"]
    key = {"w3c": lambda: raw_public_key(w3c_key()), "ob": lambda: raw_public_key(ob_key()),
           "fragment": lambda: multibase_to_public_key(proof["verificationMethod"].rsplit("#", 1)[1])}[public_key]()
    assert proof_set.verify(document, key, LOADER)
    tampered = copy.deepcopy(document)
    tampered["validFrom"] = "2000-01-01T00:00:00Z"
    assert not proof_set.verify(tampered, key, LOADER)
    assert not proof_set.verify(document, bytes(32), LOADER)


@pytest.mark.parametrize("name, signers", [("signedProofSet1.json", 1), ("signedProofSet2.json", 2)])
def test_w3c_proof_sets_verify_each_proof_with_its_own_key(name, signers):
    document = load(EDDSA / "proof-set-chain" / name)
    keys = {multibase_to_public_key(pair["publicKeyMultibase"]): pair
            for pair in load(EDDSA / "proof-set-chain" / "multiKeyPairs.json").values()}
    prepared = proof_set.prepare_proof_set(document, LOADER)
    assert prepared and len(prepared) == len(proof_set.proofs_of(document))
    for one in prepared:
        public = multibase_to_public_key(one.verification_method.rsplit("#", 1)[1])
        assert public in keys
        assert proof_set.ed25519_verify(public, one.signature, one.hash_data)
    # The platform wants one issuer key behind a whole set.
    assert (proof_set.verification_method_of(prepared) is None) == (signers > 1)


def test_a_proof_set_signs_one_document_twice_and_every_proof_must_hold():
    key = w3c_key()
    unsigned = load(EDDSA / "unsigned.json")
    signer = proof_set.ProofSetSigner(key, "did:example:issuer#key-1", "2026-06-30T12:00:00Z", LOADER)
    secured = json.loads(signer.secure(unsigned))
    assert without_proof(secured) == unsigned
    assert [p["cryptosuite"] for p in secured["proof"]] == ["eddsa-rdfc-2022", "eddsa-jcs-2022"]
    assert "@context" not in secured["proof"][0] and secured["proof"][1]["@context"] == unsigned["@context"]
    public = raw_public_key(key)
    assert proof_set.verify(secured, public, LOADER)
    assert independent_rdfc.verify_proof_set(secured, public) == {"eddsa-rdfc-2022": True, "eddsa-jcs-2022": True}
    for which in (0, 1):
        broken = copy.deepcopy(secured)
        broken["proof"][which]["proofValue"] = secured["proof"][1 - which]["proofValue"]
        assert not proof_set.verify(broken, public, LOADER)
    tampered = {**secured, "name": "Another name"}
    assert not proof_set.verify(tampered, public, LOADER)
    assert not any(independent_rdfc.verify_proof_set(tampered, public).values())


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(proof=[]),
    lambda d: d.update(proof=[*d["proof"], {"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019"}]),
    lambda d: d["proof"][0].update(proofValue="not multibase"),
    lambda d: d["proof"][0].update(proofPurpose="authentication"),
    lambda d: d.update({"@context": [*d["@context"], "https://evil.example/context"]}),
])
def test_malformed_sets_and_unknown_contexts_are_refused_without_raising(mutate):
    signer = proof_set.ProofSetSigner(w3c_key(), "did:example:issuer#key-1", "2026-06-30T12:00:00Z", LOADER)
    secured = json.loads(signer.secure(load(EDDSA / "unsigned.json")))
    mutate(secured)
    assert proof_set.prepare_proof_set(secured, LOADER) is None


def test_the_loader_refuses_every_context_it_does_not_bundle():
    with pytest.raises(NotCanonicalizable):
        canonical_nquads({"@context": "https://example.org/ctx", "name": "x"}, LOADER)
    nested = {"@context": {"sub": {"@id": "https://example.org/sub", "@context": "https://example.org/nested"}},
              "sub": {"name": "x"}}
    with pytest.raises(NotCanonicalizable):
        canonical_nquads(nested, LOADER)
    other_origin = ContextLoader("https://other.example")
    assert not other_origin.knows(LOADER.platform_context)
