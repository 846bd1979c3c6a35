"""eddsa-jcs-2022 against the W3C vc-di-eddsa test vectors, plus tamper and garbage input."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.crypto.eddsa_jcs import (
    OptionsHashes,
    PreparedProof,
    build_proof_config,
    prepare_proof,
    prepare_verification,
    proof_hash_data,
    raw_public_key,
    sign,
    signing_key_from_multibase,
    signing_key_from_seed,
    verify,
    verify_signature,
)
from shared.crypto.jcs import PlainJsonDecoder, canonicalize
from shared.crypto.multibase import (
    multibase_decode,
    multibase_encode,
    multibase_to_private_seed,
    multibase_to_public_key,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "eddsa"
JCS = VECTORS / "eddsa-jcs-2022"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_text(name: str) -> str:
    return (JCS / name).read_text(encoding="ascii")


KEY_PAIR = load_json(VECTORS / "keyPair.json")
PUBLIC_KEY = multibase_to_public_key(KEY_PAIR["publicKeyMultibase"])
UNSIGNED = load_json(VECTORS / "unsigned.json")
PROOF_CONFIG = load_json(JCS / "proofConfigJCS.json")
SIGNED = load_json(JCS / "signedJCS.json")
VM = PROOF_CONFIG["verificationMethod"]
CREATED = PROOF_CONFIG["created"]


@pytest.fixture
def vector_key() -> Ed25519PrivateKey:
    return signing_key_from_multibase(KEY_PAIR["privateKeyMultibase"])


@pytest.fixture
def signed() -> dict[str, Any]:
    """A fresh copy per test, so tampering cannot leak between tests."""
    return copy.deepcopy(SIGNED)


# --- reproducing the vector step by step -------------------------------------------------


def test_proof_config_matches_the_vector() -> None:
    config = build_proof_config(UNSIGNED, VM, CREATED)
    assert config == PROOF_CONFIG
    assert list(config) == list(PROOF_CONFIG)


def test_kept_options_hashes_give_the_vector_bytes(signed: dict[str, Any]) -> None:
    hashes = OptionsHashes()
    unsecured = {k: v for k, v in signed.items() if k != "proof"}
    for _ in range(2):  # computed, then kept
        prepared = prepare_proof(unsecured, signed["proof"], options_hashes=hashes)
        assert prepared is not None and prepared.hash_data == proof_hash_data(UNSIGNED, PROOF_CONFIG)
        assert verify_signature(prepared, PUBLIC_KEY)
    # The same content in another key order is the same JCS, so the same hash.
    assert hashes.of(dict(reversed(list(PROOF_CONFIG.items())))) == hashlib.sha256(canonicalize(PROOF_CONFIG)).digest()


@pytest.mark.parametrize("options", [
    {"type": "DataIntegrityProof", "created": 5},
    {"type": "DataIntegrityProof", "created": 5.0},
    {"type": "DataIntegrityProof", "created": True},
    {"type": "DataIntegrityProof", "@context": ["a", {"b": "c"}]},
    {"type": "DataIntegrityProof", "@context": ("a", "b")},
])
def test_options_beyond_strings_are_hashed_each_time_and_stay_distinct(options: dict[str, Any]) -> None:
    # 5, 5.0 and True are equal as Python keys but not as JSON; a tuple is not JSON at all.
    hashes = OptionsHashes()
    hashes.of({"type": "DataIntegrityProof", "created": "5", "@context": ["a", "b"]})
    try:
        expected: bytes | type[Exception] = hashlib.sha256(canonicalize(options)).digest()
    except (TypeError, ValueError) as exc:
        expected = type(exc)
    if isinstance(expected, bytes):
        assert hashes.of(options) == hashes.of(options) == expected
    else:
        with pytest.raises(expected):
            hashes.of(options)


def test_plain_options_are_kept_by_their_encoding_and_stay_distinct() -> None:
    # As jcs.PlainJsonDecoder gives them: JSON's own types; "5" and 5, key orders, lists and objects.
    decoder = PlainJsonDecoder(Any)
    hashes = OptionsHashes()
    variants = [b'{"type":"DataIntegrityProof","created":"5"}', b'{"type":"DataIntegrityProof","created":5}',
                b'{"created":"5","type":"DataIntegrityProof"}', b'{"type":"DataIntegrityProof","created":true}',
                b'{"type":"DataIntegrityProof","created":null}', b'{"type":"DataIntegrityProof","@context":["a","b"]}',
                b'{"type":"DataIntegrityProof","@context":["a",{"b":"c"}]}', b'{"type":"DataIntegrityProof","@context":"ab"}']
    for _ in range(2):  # computed, then kept
        for raw in variants:
            options = decoder.decode(raw)
            assert decoder.plain(raw)
            assert hashes.of(options, plain=True) == hashlib.sha256(canonicalize(options)).digest()


def test_options_hashes_stay_bounded() -> None:
    hashes = OptionsHashes(limit=3)
    for n in range(10):
        options = {"type": "DataIntegrityProof", "created": str(n)}
        assert hashes.of(options) == hashlib.sha256(canonicalize(options)).digest()
    assert len(hashes._hashes) <= 3


def test_hashes_match_the_vector() -> None:
    doc_hash = hashlib.sha256(canonicalize(UNSIGNED)).hexdigest()
    proof_hash = hashlib.sha256(canonicalize(PROOF_CONFIG)).hexdigest()
    assert doc_hash == load_text("docHashJCS.txt")
    assert proof_hash == load_text("proofHashJCS.txt")
    combined = proof_hash_data(UNSIGNED, PROOF_CONFIG)
    assert combined.hex() == load_text("combinedHashJCS.txt")
    assert combined.hex() == proof_hash + doc_hash  # proof hash first


def test_signature_matches_the_vector(vector_key: Ed25519PrivateKey) -> None:
    signature = vector_key.sign(proof_hash_data(UNSIGNED, PROOF_CONFIG))
    assert signature.hex() == load_text("sigHexJCS.txt")
    assert multibase_encode(signature) == load_text("sigBTC58JCS.txt")


def test_sign_produces_exactly_the_signed_vector(vector_key: Ed25519PrivateKey) -> None:
    result = sign(UNSIGNED, vector_key, VM, CREATED)
    assert result == SIGNED
    # Same member order as the published document, too.
    assert json.dumps(result) == json.dumps(SIGNED)


def test_sign_leaves_its_input_alone(vector_key: Ed25519PrivateKey) -> None:
    document = copy.deepcopy(UNSIGNED)
    result = sign(document, vector_key, VM, CREATED)
    assert document == UNSIGNED
    document["@context"].append("https://example.org/later")
    assert result["proof"]["@context"] == UNSIGNED["@context"]


def test_verify_accepts_the_signed_vector(signed: dict[str, Any]) -> None:
    assert verify(signed, PUBLIC_KEY) is True


def test_verify_accepts_a_proof_wrapped_in_a_one_element_list(signed: dict[str, Any]) -> None:
    signed["proof"] = [signed["proof"]]
    assert verify(signed, PUBLIC_KEY) is True


# --- key helpers -------------------------------------------------------------------------


def test_signing_key_helpers_agree_with_the_vector_multikey() -> None:
    seed = multibase_to_private_seed(KEY_PAIR["privateKeyMultibase"])
    assert raw_public_key(signing_key_from_seed(seed)) == PUBLIC_KEY
    assert raw_public_key(signing_key_from_multibase(KEY_PAIR["privateKeyMultibase"])) == PUBLIC_KEY


def test_signing_key_from_seed_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        signing_key_from_seed(b"\x01" * 31)


# --- tampering ---------------------------------------------------------------------------


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda document: document.pop(key)


TAMPERS: dict[str, Callable[[dict[str, Any]], None]] = {
    **{f"document {key}": _set((key,), "tampered") for key in UNSIGNED},
    **{f"drop {key}": _delete(key) for key in UNSIGNED},
    "nested subject field": _set(("credentialSubject", "alumniOf"), "Another School"),
    "nested subject id": _set(("credentialSubject", "id"), "did:example:mallory"),
    "type order": _set(("type",), ["AlumniCredential", "VerifiableCredential"]),
    "added field": _set(("validUntil",), "2030-01-01T00:00:00Z"),
    "context reordered": _set(("@context",), list(reversed(UNSIGNED["@context"]))),
    "context dropped": _set(("@context",), UNSIGNED["@context"][:1]),
    "proof created": _set(("proof", "created"), "2023-02-24T23:36:39Z"),
    "proof verificationMethod": _set(("proof", "verificationMethod"), "did:example:other#k"),
    "proof context": _set(("proof", "@context"), UNSIGNED["@context"][:1]),
    "proof extra option": _set(("proof", "domain"), "example.org"),
    "proof purpose": _set(("proof", "proofPurpose"), "authentication"),
    "proof cryptosuite": _set(("proof", "cryptosuite"), "eddsa-rdfc-2022"),
    "proof type": _set(("proof", "type"), "Ed25519Signature2020"),
}


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
def test_any_change_to_document_or_proof_fails(
    signed: dict[str, Any], tamper: Callable[[dict[str, Any]], None]
) -> None:
    tamper(signed)
    assert verify(signed, PUBLIC_KEY) is False


@pytest.mark.parametrize("index", range(64))
def test_flipping_any_signature_byte_fails(signed: dict[str, Any], index: int) -> None:
    signature = bytearray(multibase_decode(signed["proof"]["proofValue"]))
    signature[index] ^= 0x01
    signed["proof"]["proofValue"] = multibase_encode(bytes(signature))
    assert verify(signed, PUBLIC_KEY) is False


def test_wrong_public_key_fails(signed: dict[str, Any]) -> None:
    other = raw_public_key(Ed25519PrivateKey.generate())
    assert verify(signed, other) is False


def test_wrong_expected_purpose_fails(signed: dict[str, Any]) -> None:
    assert verify(signed, PUBLIC_KEY, proof_purpose="authentication") is False


def test_document_may_extend_the_signed_context(signed: dict[str, Any]) -> None:
    # Spec (Verify Proof, step 4): the document's @context must *start with*
    # the proof's, and the proof's list is what gets hashed.
    signed["@context"] = [*signed["@context"], "https://example.org/extra/v1"]
    assert verify(signed, PUBLIC_KEY) is True


# --- garbage never raises ----------------------------------------------------------------


def _with_proof(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(SIGNED)
    document["proof"].update(changes)
    return document


GARBAGE: dict[str, Any] = {
    "None": None,
    "list": [SIGNED],
    "string": json.dumps(SIGNED),
    "empty": {},
    "no proof": UNSIGNED,
    "proof null": {**UNSIGNED, "proof": None},
    "proof string": {**UNSIGNED, "proof": "z2HnFSS"},
    "proof set of two": {**UNSIGNED, "proof": [SIGNED["proof"], SIGNED["proof"]]},
    "empty proof list": {**UNSIGNED, "proof": []},
    "proofValue missing": {**UNSIGNED, "proof": PROOF_CONFIG},
    "proofValue not multibase": _with_proof(proofValue="2HnFSSPPBzR36zdDgK8PbEHe"),
    "proofValue bad base58": _with_proof(proofValue="z0OIl"),
    "proofValue number": _with_proof(proofValue=12345),
    "proofValue short": _with_proof(proofValue=multibase_encode(b"\x01" * 63)),
    "proofValue huge": _with_proof(proofValue="z" + "2" * 200_000),
    "verificationMethod list": _with_proof(verificationMethod=[VM]),
    "created not a date": _with_proof(created="yesterday"),
    "created impossible date": _with_proof(created="2023-02-30T00:00:00Z"),
    "created without timezone": _with_proof(created="2023-02-24T23:36:38"),
    "created null": _with_proof(created=None),
    "NaN in document": {**SIGNED, "score": float("nan")},
    "non-string key": {**SIGNED, 7: "seven"},
    "lone surrogate": {**SIGNED, "name": "\ud800"},
    "unsafe integer": {**SIGNED, "n": 2**60},
    "document context missing": {k: v for k, v in SIGNED.items() if k != "@context"},
}


@pytest.mark.parametrize("document", GARBAGE.values(), ids=GARBAGE.keys())
def test_malformed_input_returns_false_without_raising(document: Any) -> None:
    assert prepare_verification(document) is None
    assert verify(document, PUBLIC_KEY) is False


@pytest.mark.parametrize("key", [b"", b"\x01" * 31, PUBLIC_KEY + b"\0", None, "z6Mk"])
def test_malformed_public_key_returns_false(signed: dict[str, Any], key: Any) -> None:
    assert verify(signed, key) is False


# --- the batch-friendly split ------------------------------------------------------------


def test_prepare_then_verify_signature_splits_jcs_from_ed25519(signed: dict[str, Any]) -> None:
    prepared = prepare_verification(signed)
    assert prepared == PreparedProof(
        verification_method=VM,
        hash_data=bytes.fromhex(load_text("combinedHashJCS.txt")),
        signature=bytes.fromhex(load_text("sigHexJCS.txt")),
    )
    assert verify_signature(prepared, PUBLIC_KEY) is True
    assert verify_signature(prepared, raw_public_key(Ed25519PrivateKey.generate())) is False


# --- signing beyond the vector -----------------------------------------------------------


def test_round_trip_with_a_fresh_key_and_slow_path_content() -> None:
    key = Ed25519PrivateKey.generate()
    document = {
        **UNSIGNED,
        "credentialSubject": {"id": "did:example:x", "score": 97.5, "\U0001f393": "grad"},
    }
    secured = sign(document, key, "did:example:issuer#key-1", "2024-06-01T12:00:00.123+02:00")
    assert verify(secured, raw_public_key(key)) is True
    secured["credentialSubject"]["score"] = 97.50001
    assert verify(secured, raw_public_key(key)) is False


def test_document_without_context_gets_a_proof_without_context() -> None:
    key = Ed25519PrivateKey.generate()
    secured = sign({"hello": "world"}, key, "did:example:issuer#key-1", CREATED)
    assert "@context" not in secured["proof"]
    assert verify(secured, raw_public_key(key)) is True


def test_sign_refuses_an_already_signed_document(vector_key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="already has a proof"):
        sign(SIGNED, vector_key, VM, CREATED)


@pytest.mark.parametrize("created", ["2023-02-24", "2023-02-24T23:36:38", "2023-13-01T00:00:00Z"])
def test_sign_refuses_created_that_is_not_a_datetime_stamp(
    vector_key: Ed25519PrivateKey, created: str
) -> None:
    with pytest.raises(ValueError, match="dateTimeStamp"):
        sign(UNSIGNED, vector_key, VM, created)
