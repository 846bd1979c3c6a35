"""The exact bytes of a ledger entry and the hash chain over them.

This module is the specification an outside auditor re-implements (see
docs/ledger-format.md); change nothing here without a new format version.

    entry(n) = JCS({"metadata": M, "payload": P, "position": n,
                    "stream": S, "type": T, "version": V})
    hash(n)  = SHA-256(hash(n-1) || entry(n)),   hash(0) = 32 zero bytes

M and P are already RFC 8785 canonical JSON, so embedding them verbatim keeps
the whole entry canonical; S and T are restricted to characters that need no
JSON escaping, so the entry is built by concatenation, never re-encoded.
The Merkle leaf of position n commits to hash(n), not to these bytes (leaf.py).
"""

from __future__ import annotations

import hashlib
import re

GENESIS_HASH = bytes(32)

# Stream ids and event types appear unescaped in the entry bytes.
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._/@+\-]{0,199}$")


def check_identifier(kind: str, value: str) -> None:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{kind} {value!r} must be 1-200 characters of letters, digits and :._/@+-"
        )


_ENTRY_LAYOUT = b'{"metadata":%b,"payload":%b,"position":%d,"stream":"%b","type":"%b","version":%d}'


def entry_bytes(
    position: int, stream_id: str, version: int, event_type: str, payload: bytes, metadata: bytes
) -> bytes:
    return _ENTRY_LAYOUT % (metadata, payload, position, stream_id.encode(), event_type.encode(), version)


def encoded_entry_bytes(
    position: int, stream_id: bytes, version: int, event_type: bytes, payload: bytes, metadata: bytes
) -> bytes:
    """`entry_bytes` from the UTF-8 of the stream id and event type (an auditor
    encodes them once per row for the entry and the leaf alike)."""
    return _ENTRY_LAYOUT % (metadata, payload, position, stream_id, event_type, version)


def chain_hash(prev_hash: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(prev_hash + entry).digest()
