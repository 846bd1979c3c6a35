"""VC-JOSE: credentials as compact JWS signed with Ed25519 ("EdDSA", RFC 8037).

Per W3C VC-JOSE-COSE the JWS payload is the credential itself (no JWT claim
wrapping such as ``vc``/``iss``), with ``typ`` "vc+jwt" and ``cty`` "vc".
Verification insists on that ``typ`` (RFC 8725 explicit typing) so that some
other JWT signed by the same key cannot pass as a credential.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.crypto.eddsa_jcs import ed25519_verify
from shared.crypto.multibase import b64url_decode, b64url_encode
from shared.untrusted import decode_json

JWS_ALG: Final = "EdDSA"
JWS_TYP: Final = "vc+jwt"
JWS_CTY: Final = "vc"


def encode_vc_jws(credential: dict[str, Any], private_key: Ed25519PrivateKey, kid: str) -> str:
    """Sign ``credential`` as a compact JWS ``header.payload.signature``."""
    header = {"alg": JWS_ALG, "kid": kid, "typ": JWS_TYP, "cty": JWS_CTY}
    signing_input = (
        b64url_encode(msgspec.json.encode(header))
        + "."
        + b64url_encode(msgspec.json.encode(credential))
    )
    signature = private_key.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(signature)


def decode_vc_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Split a compact JWS into (header, credential, signing input, signature).

    Checks structure only, not the signature. Raises ValueError on anything
    malformed so callers handle a single exception type.
    """
    if not isinstance(token, str):
        raise ValueError("JWS must be a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"compact JWS needs 3 dot-separated parts, got {len(parts)}")
    header_b64, payload_b64, signature_b64 = parts
    header = _decode_json_object(header_b64, "header")
    credential = _decode_json_object(payload_b64, "payload")
    signature = b64url_decode(signature_b64)
    return header, credential, (header_b64 + "." + payload_b64).encode("ascii"), signature


def verify_vc_jws(token: str, public_key_bytes: bytes) -> bool:
    """Verify a VC-JOSE compact JWS against a raw Ed25519 key; never raises on bad input.

    ``crit`` is refused because we implement no JWS extensions, and RFC 7515
    requires rejecting tokens whose critical extensions are not understood.
    """
    try:
        header, _, signing_input, signature = decode_vc_jws(token)
    except ValueError:
        return False
    if header.get("alg") != JWS_ALG or header.get("typ") != JWS_TYP or "crit" in header:
        return False
    return ed25519_verify(public_key_bytes, signature, signing_input)


def _decode_json_object(segment: str, what: str) -> dict[str, Any]:
    # Untrusted: a payload nested thousands deep, or not UTF-8, must come out
    # as the ValueError callers handle, not a RecursionError.
    try:
        value = decode_json(b64url_decode(segment), Any, field=f"JWS {what}")
    except ValueError as exc:  # UntrustedInput and binascii.Error are ValueErrors
        raise ValueError(f"JWS {what} is not base64url JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"JWS {what} must be a JSON object")
    return value
