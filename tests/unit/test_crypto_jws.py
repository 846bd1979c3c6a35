"""VC-JOSE compact JWS with EdDSA: RFC 8037 vector, round trip, tampering, malformed tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.crypto.eddsa_jcs import ed25519_verify, raw_public_key, signing_key_from_seed
from shared.crypto.jws import decode_vc_jws, encode_vc_jws, verify_vc_jws
from shared.crypto.multibase import b64url_decode, b64url_encode

DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
KID = DID + "#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": DID,
    "validFrom": "2024-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:learner", "name": "Zoë 🎓", "credits": 5},
}

# RFC 8037 appendix A.1/A.4: Ed25519 key and the JWS of "Example of Ed25519 signing".
RFC8037_SEED = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_PUBLIC = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def token(key: Ed25519PrivateKey) -> str:
    return encode_vc_jws(CREDENTIAL, key, KID)


def stdlib_b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def forge(key: Ed25519PrivateKey, header: dict[str, Any], payload: Any) -> str:
    """A validly signed token with arbitrary header/payload, to probe header checks."""
    signing_input = (
        b64url_encode(json.dumps(header).encode())
        + "."
        + b64url_encode(json.dumps(payload).encode())
    )
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode()))


# --- RFC 8037 known answer ---------------------------------------------------------------


def test_eddsa_signing_input_and_encoding_match_rfc8037() -> None:
    private_key = signing_key_from_seed(b64url_decode(RFC8037_SEED))
    assert raw_public_key(private_key) == b64url_decode(RFC8037_PUBLIC)
    header_b64, payload_b64, signature_b64 = RFC8037_JWS.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    assert b64url_encode(private_key.sign(signing_input)) == signature_b64
    assert ed25519_verify(
        b64url_decode(RFC8037_PUBLIC), b64url_decode(signature_b64), signing_input
    )


# --- round trip --------------------------------------------------------------------------


def test_round_trip(token: str, key: Ed25519PrivateKey) -> None:
    header, credential, signing_input, signature = decode_vc_jws(token)
    assert header == {"alg": "EdDSA", "kid": KID, "typ": "vc+jwt", "cty": "vc"}
    assert credential == CREDENTIAL
    assert signing_input == token.rsplit(".", 1)[0].encode()
    assert len(signature) == 64
    assert verify_vc_jws(token, raw_public_key(key)) is True


def test_payload_is_the_credential_itself_readable_by_any_jose_library(
    token: str, key: Ed25519PrivateKey
) -> None:
    # Independent of our decoder: stdlib base64/json and the raw Ed25519 API.
    header_b64, payload_b64, signature_b64 = token.split(".")
    assert "=" not in token
    assert json.loads(stdlib_b64url(header_b64))["alg"] == "EdDSA"
    assert json.loads(stdlib_b64url(payload_b64)) == CREDENTIAL
    key.public_key().verify(stdlib_b64url(signature_b64), f"{header_b64}.{payload_b64}".encode())


def test_encoding_is_deterministic(key: Ed25519PrivateKey) -> None:
    assert encode_vc_jws(CREDENTIAL, key, KID) == encode_vc_jws(dict(CREDENTIAL), key, KID)


# --- tampering ---------------------------------------------------------------------------


def test_changed_payload_fails(token: str, key: Ed25519PrivateKey) -> None:
    header_b64, _, signature_b64 = token.split(".")
    forged = {**CREDENTIAL, "issuer": "did:example:mallory"}
    payload_b64 = b64url_encode(json.dumps(forged).encode())
    assert (
        verify_vc_jws(f"{header_b64}.{payload_b64}.{signature_b64}", raw_public_key(key)) is False
    )


def test_changed_header_fails(token: str, key: Ed25519PrivateKey) -> None:
    _, payload_b64, signature_b64 = token.split(".")
    header_b64 = b64url_encode(
        json.dumps({"alg": "EdDSA", "kid": "other", "typ": "vc+jwt"}).encode()
    )
    assert (
        verify_vc_jws(f"{header_b64}.{payload_b64}.{signature_b64}", raw_public_key(key)) is False
    )


@pytest.mark.parametrize("index", [0, 17, 31, 32, 63])
def test_flipped_signature_byte_fails(token: str, key: Ed25519PrivateKey, index: int) -> None:
    signing_input, signature_b64 = token.rsplit(".", 1)
    signature = bytearray(b64url_decode(signature_b64))
    signature[index] ^= 0x80
    tampered = f"{signing_input}.{b64url_encode(bytes(signature))}"
    assert verify_vc_jws(tampered, raw_public_key(key)) is False


def test_wrong_key_fails(token: str) -> None:
    assert verify_vc_jws(token, raw_public_key(Ed25519PrivateKey.generate())) is False


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "vc+jwt"},
        {"alg": "ES256", "typ": "vc+jwt"},
        {"alg": "EdDSA", "typ": "JWT"},  # some other JWT signed by the same key
        {"alg": "EdDSA"},
        {"alg": "EdDSA", "typ": "vc+jwt", "crit": ["b64"], "b64": False},
    ],
)
def test_validly_signed_tokens_with_unacceptable_headers_fail(
    key: Ed25519PrivateKey, header: dict[str, Any]
) -> None:
    forged = forge(key, header, CREDENTIAL)
    assert decode_vc_jws(forged)[1] == CREDENTIAL  # structurally fine, signature is good
    assert verify_vc_jws(forged, raw_public_key(key)) is False


def test_forge_helper_produces_accepted_tokens_for_the_right_header(key: Ed25519PrivateKey) -> None:
    # Guards the test above: its failures must come from the header, not from forge().
    forged = forge(key, {"alg": "EdDSA", "typ": "vc+jwt"}, CREDENTIAL)
    assert verify_vc_jws(forged, raw_public_key(key)) is True


# --- malformed tokens --------------------------------------------------------------------

HEADER_B64 = b64url_encode(b'{"alg":"EdDSA","typ":"vc+jwt"}')
PAYLOAD_B64 = b64url_encode(b'{"a":1}')
SIG_B64 = b64url_encode(b"\x01" * 64)
STRING_PAYLOAD_B64 = b64url_encode(b'"vc"')
INVALID_UTF8_PAYLOAD_B64 = b64url_encode(b'{"a":"\xff"}')

MALFORMED: dict[str, Any] = {
    "not a string": None,
    "bytes": f"{HEADER_B64}.{PAYLOAD_B64}.{SIG_B64}".encode(),
    "empty": "",
    "two parts": f"{HEADER_B64}.{PAYLOAD_B64}",
    "four parts": f"{HEADER_B64}.{PAYLOAD_B64}.{SIG_B64}.{SIG_B64}",
    "padded signature": f"{HEADER_B64}.{PAYLOAD_B64}.{SIG_B64}==",
    "standard base64 chars": f"{HEADER_B64}.{PAYLOAD_B64}.{SIG_B64[:-2]}+/",
    "header not JSON": f"{b64url_encode(b'not json')}.{PAYLOAD_B64}.{SIG_B64}",
    "header is an array": f"{b64url_encode(b'[1]')}.{PAYLOAD_B64}.{SIG_B64}",
    "payload is a string": f"{HEADER_B64}.{STRING_PAYLOAD_B64}.{SIG_B64}",
    "payload invalid UTF-8": f"{HEADER_B64}.{INVALID_UTF8_PAYLOAD_B64}.{SIG_B64}",
    "non-ASCII": f"{HEADER_B64}.{PAYLOAD_B64}.é",
}


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_tokens_raise_value_error_on_decode_and_fail_verify(bad: Any) -> None:
    with pytest.raises(ValueError):
        decode_vc_jws(bad)
    assert verify_vc_jws(bad, b"\x01" * 32) is False


def test_short_signature_decodes_but_does_not_verify(key: Ed25519PrivateKey) -> None:
    token = f"{HEADER_B64}.{PAYLOAD_B64}.{b64url_encode(b'x' * 10)}"
    assert len(decode_vc_jws(token)[3]) == 10
    assert verify_vc_jws(token, raw_public_key(key)) is False


@pytest.mark.parametrize("public_key", [b"", b"\x01" * 31, None])
def test_malformed_public_key_fails(token: str, public_key: Any) -> None:
    assert verify_vc_jws(token, public_key) is False


def test_public_key_helper_is_interchangeable_with_cryptography(key: Ed25519PrivateKey) -> None:
    raw = raw_public_key(key)
    assert Ed25519PublicKey.from_public_bytes(raw) == key.public_key()
