"""Multibase / multicodec encodings used by Data Integrity and did:key.

Only the pieces this platform needs: base58btc (multibase prefix ``z``) for
signatures and Ed25519 Multikeys, plus unpadded base64url for JOSE. Decoders
are strict and raise ``ValueError`` with a message naming what was wrong,
because their input is usually untrusted (a proofValue, a DID, a JWS).
"""

from __future__ import annotations

import base64
import math
from typing import Final

import based58

try:
    from shared.crypto import _base58 as _native
except ImportError:  # pragma: no cover - built wherever the tests run
    _native = None  # type: ignore[assignment]

BASE58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX: Final = {char: value for value, char in enumerate(BASE58_ALPHABET)}
_BASE58_CHARS_PER_BYTE: Final = math.log(256) / math.log(58)
_BASE58_PAIRS: Final = [first + second for first in BASE58_ALPHABET for second in BASE58_ALPHABET]
_BASE58_PAIR_COUNT: Final = 58**2
_BASE58_GROUP: Final = 58**5

MULTIBASE_BASE58BTC: Final = "z"
# Multicodec varints: ed25519-pub (0xed) and ed25519-priv (0x1300).
ED25519_PUB_PREFIX: Final = b"\xed\x01"
ED25519_PRIV_PREFIX: Final = b"\x80\x26"
ED25519_KEY_LENGTH: Final = 32


def base58_encode(data: bytes) -> str:
    """Encode bytes as base58 (bitcoin alphabet); each leading zero byte becomes '1'.

    In C (_base58.c, built by setup.py: ~0.3 us a signature) when built,
    else `reference_base58_encode`, which gives the same text.
    """
    return reference_base58_encode(data) if _native is None else _native.b58encode(data)


def reference_base58_encode(data: bytes) -> str:
    """`base58_encode` in Python (~8 us a signature).

    Five digits per division: 58**5 fits one CPython bignum digit (30 bits),
    so each step is the cheap single-digit division, and the five digits
    come from a table of digit pairs (a signature: 18 steps, not 88).
    """
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    groups: list[str] = []
    while number:
        number, group = divmod(number, _BASE58_GROUP)
        high, low = divmod(group, _BASE58_PAIR_COUNT)
        top, middle = divmod(high, _BASE58_PAIR_COUNT)
        groups.append(BASE58_ALPHABET[top] + _BASE58_PAIRS[middle] + _BASE58_PAIRS[low])
    groups.reverse()
    # The first group's leading '1's are padding, not zero bytes.
    return "1" * zeros + "".join(groups).lstrip("1")


def base58_decode(text: str) -> bytes:
    """Decode base58 (bitcoin alphabet); raise ValueError on any foreign character.

    The arithmetic runs in based58 (Rust): a 64-byte signature took ~7 us as
    a Python loop over its 88 digits and takes ~1.5 us there, on the path of
    every verified proof. Its own errors are replaced by ours, which name
    the offending character the same way whatever the input.
    """
    try:
        return based58.b58decode(text.encode("ascii"))
    except ValueError:  # also UnicodeEncodeError: a non-ASCII character
        bad = next((c for c in text if c not in _BASE58_INDEX), "?")
        raise ValueError(f"invalid base58 character {bad!r}") from None


def multibase_encode(data: bytes) -> str:
    """Encode as multibase base58btc, the only base Data Integrity EdDSA allows."""
    return MULTIBASE_BASE58BTC + base58_encode(data)


def multibase_decode(text: str, size: int | None = None) -> bytes:
    """Decode a multibase base58btc string ('z...'); other bases are rejected.

    With ``size``, the result must be exactly that many bytes, and overlong
    text is refused before decoding: base58 decoding is quadratic, so an
    attacker-sized proofValue or DID would otherwise burn CPU.
    """
    if not isinstance(text, str) or not text.startswith(MULTIBASE_BASE58BTC):
        raise ValueError("expected a multibase base58btc string starting with 'z'")
    if size is not None and len(text) - 1 > math.ceil(size * _BASE58_CHARS_PER_BYTE):
        raise ValueError(f"multibase string too long for {size} bytes")
    decoded = base58_decode(text[1:])
    if size is not None and len(decoded) != size:
        raise ValueError(f"expected {size} bytes, got {len(decoded)}")
    return decoded


def public_key_to_multibase(raw: bytes) -> str:
    """Encode a raw Ed25519 public key as a Multikey ('z6Mk...')."""
    return multibase_encode(ED25519_PUB_PREFIX + _check_key_length(raw, "public key"))


def multibase_to_public_key(text: str) -> bytes:
    """Decode an Ed25519 Multikey to its raw 32-byte public key."""
    return _decode_multikey(text, ED25519_PUB_PREFIX, "Ed25519 public key (0xed01)")


def private_seed_to_multibase(seed: bytes) -> str:
    """Encode a 32-byte Ed25519 seed as a private Multikey ('z3u2...')."""
    return multibase_encode(ED25519_PRIV_PREFIX + _check_key_length(seed, "seed"))


def multibase_to_private_seed(text: str) -> bytes:
    """Decode a private Ed25519 Multikey to its 32-byte seed."""
    return _decode_multikey(text, ED25519_PRIV_PREFIX, "Ed25519 private seed (0x8026)")


def b64url_encode(data: bytes) -> str:
    """Encode as base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, rejecting padding, foreign and non-canonical input.

    The stdlib decoder skips unknown characters and ignores stray trailing
    bits, which would give one JWS many spellings. Requiring the input to be
    exactly what we would encode rules all of that out in one comparison.
    """
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:  # binascii.Error, or a non-ASCII str
        raise ValueError("invalid base64url string") from exc
    if b64url_encode(data) != text:
        raise ValueError("invalid or non-canonical base64url (unpadded) string")
    return data


def _check_key_length(raw: bytes, what: str) -> bytes:
    if len(raw) != ED25519_KEY_LENGTH:
        raise ValueError(f"Ed25519 {what} must be {ED25519_KEY_LENGTH} bytes, got {len(raw)}")
    return raw


def _decode_multikey(text: str, prefix: bytes, what: str) -> bytes:
    try:
        decoded = multibase_decode(text, size=len(prefix) + ED25519_KEY_LENGTH)
    except ValueError as exc:
        raise ValueError(f"malformed multikey {what}: {exc}") from exc
    if not decoded.startswith(prefix):
        raise ValueError(f"not a multikey {what}: multicodec prefix is {decoded[:2].hex()!r}")
    return decoded[len(prefix) :]
