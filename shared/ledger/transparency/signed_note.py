"""C2SP signed notes (Ed25519), tlog-checkpoints and tlog-proof bundles.

Specs: c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-proof. Checkpoints
are the ledger's signed tree heads; tlog-proofs let a holder show offline that a ledger
entry is in the log, without asking the log.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.ledger.transparency.merkle import HASH_SIZE, verify_inclusion

ED25519_SIG_TYPE = b"\x01"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"

_SIG_PREFIX = "\u2014 "  # em dash + space opens every signature line
_KEY_ID_SIZE = 4
_ED25519_SIG_SIZE = 64
# The spec requires accepting at least 16 signatures and asks verifiers to cap the
# count, so a hostile note cannot make us parse without bound.
_MAX_SIGNATURES = 64
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII only and no leading zeros, per spec
_CONTROL_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f]")  # every control char except \n


class NoteError(ValueError):
    """A note, vkey, checkpoint or tlog-proof is malformed or fails verification."""


@dataclass(frozen=True)
class NoteSignature:
    key_name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Verifier:
    """A parsed Ed25519 verifier key (vkey)."""

    key_name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse `<name>+<hex key id>+<base64(0x01 || public key)>`."""
        # Only the first two '+' separate parts: standard base64 may itself contain '+'.
        parts = vkey.split("+", 2) if isinstance(vkey, str) else []
        if len(parts) != 3:
            raise NoteError("a vkey has three '+'-separated parts")
        name, hex_id, encoded = parts
        _check_key_name(name)
        material = _b64decode(encoded, "vkey key material")
        if len(material) != 33 or material[:1] != ED25519_SIG_TYPE:
            raise NoteError("only Ed25519 vkeys (type 0x01, 32-byte key) are supported")
        # The key ID is derived from the key, so a mismatch means a corrupted vkey.
        if hex_id != key_id(name, material[1:]).hex():
            raise NoteError("vkey key ID does not match its name and public key")
        public_key = Ed25519PublicKey.from_public_bytes(material[1:])
        return cls(name, bytes.fromhex(hex_id), public_key)


def key_id(key_name: str, public_key: bytes) -> bytes:
    """Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]."""
    digest = sha256(key_name.encode() + b"\n" + ED25519_SIG_TYPE + public_key).digest()
    return digest[:_KEY_ID_SIZE]


def vkey_for(key_name: str, public_key: Ed25519PublicKey) -> str:
    """The vkey string that lets others verify notes signed by `public_key`."""
    _check_key_name(key_name)
    raw = public_key.public_bytes_raw()
    material = base64.b64encode(ED25519_SIG_TYPE + raw).decode()
    return f"{key_name}+{key_id(key_name, raw).hex()}+{material}"


def sign_note(text: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return `text` as a signed note carrying one Ed25519 signature."""
    _check_note_text(text)
    _check_key_name(key_name)
    raw_public = private_key.public_key().public_bytes_raw()
    signature = key_id(key_name, raw_public) + private_key.sign(text.encode())
    return f"{text}\n{_SIG_PREFIX}{key_name} {base64.b64encode(signature).decode()}\n"


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signatures, without verifying anything.

    The text may itself contain blank lines; the signature block starts after the last.
    """
    _check_note_text(note)  # the rules for text hold for the whole note too
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note needs a blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block.removesuffix("\n").split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError(f"more than {_MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def verify_note(note: str, vkey: str | Verifier) -> str:
    """Return the note text if a signature by `vkey` verifies; raise NoteError otherwise.

    Signatures by other keys are ignored, as the spec requires (cosigners, rotation).
    """
    verifier = vkey if isinstance(vkey, Verifier) else Verifier.parse(vkey)
    text, signatures = split_note(note)
    ours = [
        s
        for s in signatures
        if s.key_name == verifier.key_name and s.key_id == verifier.key_id
    ]
    if not ours:
        raise NoteError(f"note has no signature by {verifier.key_name}")
    for sig in ours:
        # A bad signature from the trusted key means tampering: reject the whole note.
        if len(sig.signature) != _ED25519_SIG_SIZE:
            raise NoteError("Ed25519 signature has the wrong length")
        try:
            verifier.public_key.verify(sig.signature, text.encode())
        except InvalidSignature:
            raise NoteError(f"signature by {verifier.key_name} does not verify") from None
    return text


@dataclass(frozen=True)
class Checkpoint:
    """The note text of a tlog-checkpoint: a log's signed tree head."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line:
                raise NoteError("checkpoint origin and extensions must be non-empty lines")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise NoteError("checkpoint size must be a non-negative integer")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash must be {HASH_SIZE} bytes")

    def to_body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse checkpoint note text (the part before the signatures)."""
        _check_note_text(body)
        lines = body.removesuffix("\n").split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has at least origin, size and root hash lines")
        origin, size, root, *extensions = lines
        return cls(
            origin,
            _parse_decimal(size, "tree size"),
            _b64decode(root, "root hash"),
            tuple(extensions),
        )


def verify_checkpoint(note: str, vkey: str | Verifier) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint it carries."""
    return Checkpoint.parse(verify_note(note, vkey))


@dataclass(frozen=True)
class TlogProof:
    """A c2sp.org/tlog-proof@v1 bundle: entry index, inclusion proof and signed checkpoint."""

    index: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str  # the signed checkpoint note, kept verbatim so signatures still verify
    extra: bytes = b""  # opaque, unauthenticated application data

    def to_text(self) -> str:
        lines = [TLOG_PROOF_HEADER]
        if self.extra:
            lines.append(f"extra {base64.b64encode(self.extra).decode()}")
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.inclusion_proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        if not isinstance(text, str):
            raise NoteError("a tlog-proof must be a string")
        header, rest = _next_line(text)
        if header != TLOG_PROOF_HEADER:
            raise NoteError(f"a tlog-proof starts with {TLOG_PROOF_HEADER!r}")
        line, rest = _next_line(rest)
        extra = b""
        if line.startswith("extra "):
            extra = _b64decode(line.removeprefix("extra "), "extra data")
            line, rest = _next_line(rest)
        if not line.startswith("index "):
            raise NoteError("a tlog-proof needs an 'index' line")
        index = _parse_decimal(line.removeprefix("index "), "index")
        hashes: list[bytes] = []
        line, rest = _next_line(rest)
        while line:  # proof hashes run up to the empty line before the checkpoint
            hashes.append(_parse_proof_hash(line))
            line, rest = _next_line(rest)
        if not rest:
            raise NoteError("a tlog-proof ends with a signed checkpoint")
        return cls(index, tuple(hashes), rest, extra)

    def verify(self, leaf_hash: bytes, origin: str, vkey: str | Verifier) -> Checkpoint:
        """Check the log signature, the origin and the leaf's inclusion; return the checkpoint.

        Witness cosignatures are not checked here: they are ignored as unknown keys.
        """
        checkpoint = verify_checkpoint(self.checkpoint, vkey)
        if checkpoint.origin != origin:
            raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
        proof = list(self.inclusion_proof)
        size, root = checkpoint.size, checkpoint.root_hash
        if not verify_inclusion(self.index, size, leaf_hash, proof, root):
            raise NoteError("inclusion proof does not match the checkpoint")
        return checkpoint


def _parse_signature_line(line: str) -> NoteSignature:
    name, sep, encoded = line.removeprefix(_SIG_PREFIX).partition(" ")
    if not line.startswith(_SIG_PREFIX) or not sep:
        raise NoteError("signature lines have the form '\u2014 <key name> <base64>'")
    _check_key_name(name)
    raw = _b64decode(encoded, "signature")
    if len(raw) <= _KEY_ID_SIZE:
        raise NoteError("a signature holds a 4-byte key ID and the signature bytes")
    return NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def _parse_proof_hash(line: str) -> bytes:
    digest = _b64decode(line, "inclusion proof hash")
    if len(digest) != HASH_SIZE:
        raise NoteError(f"inclusion proof hashes are {HASH_SIZE} bytes")
    return digest


def _next_line(text: str) -> tuple[str, str]:
    line, sep, rest = text.partition("\n")
    if not sep:
        raise NoteError("tlog-proof is truncated")
    return line, rest


def _check_note_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("note text must be a string ending in a newline")
    if _CONTROL_CHARS.search(text):
        raise NoteError("note text must not contain control characters other than newline")
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates cannot be UTF-8
        raise NoteError("note text must be valid UTF-8") from None


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError("key names are non-empty, without spaces or '+'")


def _parse_decimal(value: str, what: str) -> int:
    if not _DECIMAL.fullmatch(value):
        raise NoteError(f"{what} must be a decimal number without leading zeros")
    return int(value)


def _b64decode(value: str, what: str) -> bytes:
    """Strict standard base64: only the canonical encoding is accepted."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode() != value:
        raise NoteError(f"{what} is not canonical base64")
    return raw
