"""Ed25519 verify through libsodium, as cheaply as Python can call it.

libsodium's verify is faster than OpenSSL's through `cryptography` on these
machines (bench/verify_bulk.py measures both in the same run). PyNaCl
bundles libsodium; its cffi binding has no detached verify, and
`VerifyKey.verify` or `crypto_sign_open` copy the signed message into a new
buffer first, so the bundled library's own `crypto_sign_verify_detached` is
called directly, with `crypto_sign_open` as the fallback if a build does not
export it. Both refuse non-canonical signatures and small-order keys.
Where the optional C accelerator is built (shared/crypto/native.py), it
calls that same function without ctypes' per-call conversions (0.39 us).
"""

from __future__ import annotations

import ctypes

import nacl.bindings  # noqa: F401 - runs sodium_init() before any call below
from nacl import _sodium

from shared.crypto.native import jcsproof

KEY_BYTES, SIGNATURE_BYTES = 32, 64


def _detached():
    try:
        function = ctypes.CDLL(_sodium.__file__).crypto_sign_verify_detached
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p]
    function.restype = ctypes.c_int
    return function


_VERIFY_DETACHED = _detached()
_ffi, _lib = _sodium.ffi, _sodium.lib


def ctypes_verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """True if `signature` is `public`'s Ed25519 signature of `message`."""
    if len(public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    if _VERIFY_DETACHED is not None:
        return _VERIFY_DETACHED(signature, message, len(message), public) == 0
    signed = signature + message
    return _lib.crypto_sign_open(_ffi.new("unsigned char[]", len(signed)), _ffi.NULL, signed, len(signed),
                                 public) == 0


# The same answers (tests/unit/test_jcsproof_native.py), a fifth of the call's cost.
verify = (jcsproof.ed25519_verify if jcsproof is not None and jcsproof.bind_ed25519(_sodium.__file__)
          else ctypes_verify)
