"""base58btc, Ed25519 Multikeys, base64url and did:key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.crypto.did_key import (
    did_key_document,
    did_key_from_public_key,
    public_key_from_did_key,
    verification_method_id,
)
from shared.crypto.multibase import (
    b64url_decode,
    b64url_encode,
    base58_decode,
    base58_encode,
    multibase_decode,
    multibase_encode,
    multibase_to_private_seed,
    multibase_to_public_key,
    private_seed_to_multibase,
    public_key_to_multibase,
)
from tests.support import independent_eddsa

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "eddsa"
KEY_PAIR = json.loads((VECTORS / "keyPair.json").read_text(encoding="utf-8"))
PROOF_CONFIG = json.loads(
    (VECTORS / "eddsa-jcs-2022" / "proofConfigJCS.json").read_text(encoding="utf-8")
)
VECTOR_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


# --- base58btc ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        # draft-msporny-base58 examples
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
        (
            b"The quick brown fox jumps over the lazy dog.",
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
        ),
        (bytes.fromhex("0000287fb4cd"), "11233QC4"),
        (b"", ""),
        (b"\0", "1"),
    ],
)
def test_base58_known_values(raw: bytes, encoded: str) -> None:
    assert base58_encode(raw) == encoded
    assert base58_decode(encoded) == raw


def test_base58_round_trips_random_bytes_with_leading_zeros() -> None:
    for length in range(0, 70):
        raw = b"\0" * (length % 4) + os.urandom(length)
        assert base58_decode(base58_encode(raw)) == raw


def test_base58_decode_agrees_with_the_independent_reference_decoder() -> None:
    # base58_decode runs in a compiled library; the spec-text decoder of the tests is the reference.
    for length in range(0, 100):
        raw = b"\0" * (length % 5) + os.urandom(length)
        text = base58_encode(raw)
        assert base58_decode(text) == independent_eddsa.base58btc_decode(text) == raw
    for text in ("1", "11", "z", "2" * 90, "1112", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"):
        assert base58_decode(text) == independent_eddsa.base58btc_decode(text)


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "abc+", "z z", "2é", "22\u0000"])
def test_base58_rejects_characters_outside_the_bitcoin_alphabet(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid base58 character"):
        base58_decode(bad)


def test_multibase_requires_the_z_prefix_and_enforces_size() -> None:
    assert multibase_encode(b"\x01\x02") == "z" + base58_encode(b"\x01\x02")
    assert multibase_decode(multibase_encode(b"\x01\x02"), size=2) == b"\x01\x02"
    with pytest.raises(ValueError, match="starting with 'z'"):
        multibase_decode("f0102")
    with pytest.raises(ValueError, match="expected 3 bytes, got 2"):
        multibase_decode(multibase_encode(b"\x01\x02"), size=3)
    with pytest.raises(ValueError, match="too long"):
        multibase_decode("z" + "2" * 10_000, size=64)


# --- Ed25519 Multikeys (W3C keyPair.json) ------------------------------------------------


def test_vector_key_pair_decodes_and_seed_derives_the_public_key() -> None:
    public = multibase_to_public_key(KEY_PAIR["publicKeyMultibase"])
    seed = multibase_to_private_seed(KEY_PAIR["privateKeyMultibase"])
    assert len(public) == 32 and len(seed) == 32
    assert raw_public(Ed25519PrivateKey.from_private_bytes(seed)) == public
    assert public_key_to_multibase(public) == KEY_PAIR["publicKeyMultibase"]
    assert private_seed_to_multibase(seed) == KEY_PAIR["privateKeyMultibase"]


def test_ed25519_multikeys_start_with_z6mk() -> None:
    public = raw_public(Ed25519PrivateKey.generate())
    assert public_key_to_multibase(public).startswith("z6Mk")
    assert multibase_to_public_key(public_key_to_multibase(public)) == public


def test_public_decoder_refuses_a_private_multikey() -> None:
    # Mixing these up would publish a private key; the prefix check prevents it.
    with pytest.raises(ValueError, match="prefix is '8026'"):
        multibase_to_public_key(KEY_PAIR["privateKeyMultibase"])
    with pytest.raises(ValueError, match="prefix is 'ed01'"):
        multibase_to_private_seed(KEY_PAIR["publicKeyMultibase"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (multibase_encode(b"\xed\x01" + b"\x07" * 31), "expected 34 bytes"),
        (multibase_encode(b"\xed\x01" + b"\x07" * 33), "too long for 34 bytes"),
        ("z", "expected 34 bytes"),
        ("u7QE", "starting with 'z'"),
        ("z6Mk0000", "invalid base58 character"),
    ],
)
def test_public_multikey_decoding_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        multibase_to_public_key(text)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_encoders_refuse_keys_of_the_wrong_length(length: int) -> None:
    with pytest.raises(ValueError, match="must be 32 bytes"):
        public_key_to_multibase(b"\x01" * length)
    with pytest.raises(ValueError, match="must be 32 bytes"):
        private_seed_to_multibase(b"\x01" * length)


# --- base64url ---------------------------------------------------------------------------


def test_b64url_round_trip_without_padding() -> None:
    for length in range(0, 40):
        raw = os.urandom(length)
        encoded = b64url_encode(raw)
        assert "=" not in encoded and "+" not in encoded and "/" not in encoded
        assert b64url_decode(encoded) == raw
    assert b64url_encode(b"\xfb\xff") == "-_8"


@pytest.mark.parametrize("bad", ["AA==", "+/8", "A", "AB", "A A", "Zm9v\n", "é"])
def test_b64url_rejects_padding_foreign_and_non_canonical_input(bad: str) -> None:
    # "AB" carries non-zero spare bits: the stdlib would decode it as "AA".
    with pytest.raises(ValueError):
        b64url_decode(bad)


# --- did:key -----------------------------------------------------------------------------


def test_did_key_of_the_vector_key_matches_the_vector_verification_method() -> None:
    public = multibase_to_public_key(KEY_PAIR["publicKeyMultibase"])
    assert did_key_from_public_key(public) == VECTOR_DID
    assert verification_method_id(public) == PROOF_CONFIG["verificationMethod"]


def test_did_key_round_trips_from_did_and_from_verification_method() -> None:
    public = raw_public(Ed25519PrivateKey.generate())
    assert public_key_from_did_key(did_key_from_public_key(public)) == public
    assert public_key_from_did_key(verification_method_id(public)) == public


@pytest.mark.parametrize(
    "bad",
    [
        "did:web:example.com",
        "did:key:",
        VECTOR_DID + "#key-1",
        VECTOR_DID + "#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "did:key:" + KEY_PAIR["privateKeyMultibase"],
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    ],
)
def test_public_key_from_did_key_rejects_other_identifiers(bad: str) -> None:
    with pytest.raises(ValueError):
        public_key_from_did_key(bad)


def test_did_key_document_lists_one_multikey_for_assertion_and_authentication() -> None:
    public = multibase_to_public_key(KEY_PAIR["publicKeyMultibase"])
    vm_id = PROOF_CONFIG["verificationMethod"]
    assert did_key_document(public) == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": VECTOR_DID,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": VECTOR_DID,
                "publicKeyMultibase": KEY_PAIR["publicKeyMultibase"],
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
    }
