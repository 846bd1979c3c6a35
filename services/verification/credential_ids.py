"""The 16 bytes of a credential id, read one at a time or many at once.

This ledger's ids are canonical `urn:uuid:` UUIDs: lower-case hex, dashes in
their places. Only those are packed into the credential table's id column
(and found through its hash table); any other form, the nil UUID included,
is kept as a string beside it. Both readers here draw that line the same
way, which the credential table's tests pin.
"""

from __future__ import annotations

import numpy as np

URN = "urn:uuid:"
ID_LENGTH = 45
# Where the characters of a canonical "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" are.
_FIXED = np.frombuffer(URN.encode("ascii"), dtype=np.uint8)
_DASH_AT = np.array([17, 22, 27, 32])
_DASH = ord("-")
_HEX_AT = np.array([i for i in range(len(URN), ID_LENGTH) if i not in (17, 22, 27, 32)])


def uuid_key(credential_id: str) -> bytes | None:
    """The 16 bytes of a canonical (lower-case) `urn:uuid:` id, else None."""
    if len(credential_id) != ID_LENGTH or not credential_id.startswith(URN):
        return None
    c = credential_id
    if c[17] != "-" or c[22] != "-" or c[27] != "-" or c[32] != "-":
        return None
    digits = c[9:17] + c[18:22] + c[23:27] + c[28:32] + c[33:]
    if digits.lower() != digits:
        return None
    try:
        return bytes.fromhex(digits)
    except ValueError:
        return None


def uuid_id(key: bytes) -> str:
    h = key.hex()
    return f"{URN}{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def canonical_keys(blob: bytes, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` ids of ID_LENGTH ASCII characters each, joined in `blob`: their
    keys as an (n, 2) array of little-endian uint64 halves, and which ids are
    canonical and not the nil UUID (the others' keys are meaningless)."""
    chars = np.frombuffer(blob, dtype=np.uint8).reshape(count, ID_LENGTH)
    digits = chars[:, _HEX_AT]
    canonical = (chars[:, :_FIXED.size] == _FIXED).all(axis=1) & (chars[:, _DASH_AT] == _DASH).all(axis=1)
    canonical &= (((digits >= 48) & (digits <= 57)) | ((digits >= 97) & (digits <= 102))).all(axis=1)
    nibbles = (digits & 15) + 9 * (digits >> 6)  # '0'-'9' are 0x30-0x39, 'a'-'f' 0x61-0x66
    keys = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).view("<u8")
    canonical &= (keys != 0).any(axis=1)
    return keys, canonical


# The framings of a verification body of nothing but ids, as clients write
# it: compact (JavaScript's JSON.stringify, msgspec) and with Python's
# json.dumps default separators.
_ID_FRAMINGS = ((b'{"items":[{"id":"', b'"},{"id":"', b'"}]}'),
                (b'{"items": [{"id": "', b'"}, {"id": "', b'"}]}'))


def id_body(body: bytes) -> tuple[list[bytes], np.ndarray] | None:
    """The ids of a body that holds only canonical ids (not the nil UUID), in
    one of _ID_FRAMINGS, and their keys (as `canonical_keys`); else None, and
    the body is for the JSON decoder. Read by one split, never decoded: each
    piece between the framing's separators is ID_LENGTH bytes of `urn:uuid:`,
    hex and dashes (no quote, no backslash, no byte past ASCII), so the split
    is exact and each piece is the JSON string's value as it stands."""
    for head, between, tail in _ID_FRAMINGS:
        if body.startswith(head) and body.endswith(tail) and len(body) >= len(head) + ID_LENGTH + len(tail):
            ids = body[len(head):len(body) - len(tail)].split(between)
            if set(map(len, ids)) != {ID_LENGTH}:
                return None
            keys, canonical = canonical_keys(b"".join(ids), len(ids))
            return (ids, keys) if canonical.all() else None
    return None
