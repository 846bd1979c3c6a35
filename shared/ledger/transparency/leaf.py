"""Leaf v2 of the transparency log: a commitment to an entry that discloses no payload.

This module is the specification an outside verifier re-implements (see
docs/ledger-format.md, "Merkle leaves"); change nothing here without a new
leaf version. Leaf i (0-based) commits to ledger position i+1:

    leaf(n) = JCS({"chain_hash": hex(hash(n)),
                   "document_sha256": hex(SHA-256(D)),   # only when the payload has a document
                   "leaf_version": 2, "position": n, "recorded_at": R,
                   "stream": S, "type": T, "version": V})

`hash(n)` is the chain hash, which covers the whole entry (payload and
metadata) and its predecessor, so the leaf binds the entry without carrying
it. D is the payload's top-level `document` member verbatim (already RFC 8785
canonical), so a holder presenting the credential recomputes the digest from
JCS(document). A bare digest of the payload is deliberately absent: a short
payload such as a revocation reason could be confirmed by guessing.
"""

from __future__ import annotations

import hashlib

import msgspec

from shared.crypto.jcs import canonicalize
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.transparency.merkle import leaf_hash
from shared.ledger.transparency.native import chunkhash
from shared.ledger.transparency.signed_note import Checkpoint, NoteError, TlogProof, Verifier

LEAF_VERSION = 2

_LEAF_HEAD = b'{"chain_hash":"%b",'
_DOCUMENT = b'"document_sha256":"%b",'
_LEAF_TAIL = b'"leaf_version":2,"position":%d,"recorded_at":%b,"stream":"%b","type":"%b","version":%d}'
_DOCUMENT_MEMBER = b'"document":'


class _Recorded(msgspec.Struct):
    recorded_at: str = ""


class _WithDocument(msgspec.Struct):
    document: msgspec.Raw = msgspec.Raw(b"")


class Leaf(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A decoded leaf, as a verifier reads it back from a `tlog-proof` bundle."""

    chain_hash: str
    leaf_version: int
    position: int
    recorded_at: str
    stream: str
    type: str
    version: int
    document_sha256: str | None = None


_RECORDED_DECODER = msgspec.json.Decoder(_Recorded)
_DOCUMENT_DECODER = msgspec.json.Decoder(_WithDocument)
_LEAF_DECODER = msgspec.json.Decoder(Leaf)


def payload_document(payload: bytes) -> bytes | None:
    """The exact bytes of the payload's top-level `document` member, if it has one."""
    if _DOCUMENT_MEMBER not in payload:  # most events: skip decoding
        return None
    raw = bytes(_DOCUMENT_DECODER.decode(payload).document)
    return raw or None


def recorded_at_json(metadata: bytes) -> bytes:
    """The metadata's `recorded_at` as the leaf carries it: a JSON string."""
    return msgspec.json.encode(_RECORDED_DECODER.decode(metadata).recorded_at)


def leaf_bytes(
    position: int, stream_id: str, version: int, event_type: str,
    payload: bytes, metadata: bytes, chain_hash: bytes,
) -> bytes:
    return encoded_leaf_bytes(position, stream_id.encode(), version, event_type.encode(), payload, metadata,
                              chain_hash)


def encoded_leaf_bytes(
    position: int, stream_id: bytes, version: int, event_type: bytes,
    payload: bytes, metadata: bytes, chain_hash: bytes,
) -> bytes:
    """`leaf_bytes` from the UTF-8 of the stream id and event type."""
    recorded_at = _recorded_at(metadata)
    document = _document(payload)
    head = _LEAF_HEAD % chain_hash.hex().encode()
    if document is not None:
        head += _DOCUMENT % hashlib.sha256(document).hexdigest().encode()
    return head + _LEAF_TAIL % (position, recorded_at, stream_id, event_type, version)


# The audit's C reader (_chunkhash.c) finds both members without decoding
# the payload (its JSON walk is the one `audit verify` checks every leaf
# with); where it cannot be certain, msgspec decides, as without it. The
# checkpointer hashes every ledger row, so this is most of its leaf's cost.
def _recorded_at(metadata: bytes) -> bytes:
    found = None if chunkhash is None else chunkhash.recorded_at_json(metadata)
    return recorded_at_json(metadata) if found is None else found


def _document(payload: bytes) -> bytes | None:
    if chunkhash is not None:
        found, handled = chunkhash.payload_document(payload)
        if handled:
            return found or None
    return payload_document(payload)


def event_leaf(event: RecordedEvent) -> bytes:
    return leaf_bytes(event.position, event.stream_id, event.version, event.event_type,
                      bytes(event.payload), bytes(event.metadata), event.hash)


def event_leaf_hash(event: RecordedEvent) -> bytes:
    return leaf_hash(event_leaf(event))


def document_sha256(document: object) -> str:
    """The digest a leaf carries for a credential document presented as JSON."""
    return hashlib.sha256(canonicalize(document)).hexdigest()


def verify_document_in_log(bundle_text: str, document: object, origin: str, vkey: str | Verifier) -> Checkpoint:
    """Prove that exactly `document` is in the log: the bundle's `extra` is the
    leaf, whose document digest must be the presented document's, and whose
    leaf hash must be included under the signed checkpoint."""
    bundle = TlogProof.parse(bundle_text)
    try:
        leaf = _LEAF_DECODER.decode(bundle.extra)
    except msgspec.DecodeError as exc:
        raise NoteError(f"the bundle's extra data is not a v{LEAF_VERSION} leaf: {exc}") from None
    if leaf.leaf_version != LEAF_VERSION or leaf.position != bundle.index + 1:
        raise NoteError(f"the leaf is not a v{LEAF_VERSION} leaf of position {bundle.index + 1}")
    if leaf.document_sha256 != document_sha256(document):
        raise NoteError("the presented document is not the one this leaf commits to")
    return bundle.verify(leaf_hash(bundle.extra), origin, vkey)
