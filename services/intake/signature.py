"""Signed commands: a compact JWS (EdDSA) over the command, by an issuer key.

The embedded broker (Tansu 0.6) cannot authenticate producers in a way
aiokafka can use (docs/intake.md), so the broker says nothing about who
sent a record. Each record's value is therefore a compact JWS whose `kid`
is a verification method of the issuer's own (issuer_held) key in the
registry, and whose payload is the command. The key, not the envelope,
decides the tenant: a command naming another issuer is refused.

Every byte is outside input: the value, the header and the payload all go
through shared/untrusted.py before anything else reads them.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.intake.commands import Command
from services.issuance.eligibility import registered_issuer
from services.issuance.issuer_signed import issuer_held_key
from shared.credential_format import issuer_id_from_did, split_verification_method
from shared.crypto.eddsa_jcs import ed25519_verify
from shared.crypto.multibase import b64url_decode, b64url_encode
from shared.refusals import Forbidden, Unauthenticated
from shared.registry_state import IssuerKey, RegistryState
from shared.untrusted import UntrustedInput, decode_json, text

JWS_ALG = "EdDSA"
COMMAND_TYP = "credledger-command+json"
MAX_COMMAND_BYTES = 1024 * 1024


class Header(msgspec.Struct, kw_only=True):
    alg: str
    kid: str
    typ: str
    crit: list[str] | None = None


class Opened(msgspec.Struct, frozen=True):
    """A command whose bytes decode; `signing_input`/`signature` still unchecked."""

    command: Command
    header: Header
    signing_input: bytes
    signature: bytes


def sign_command(command: Command, private_key: Ed25519PrivateKey, kid: str) -> bytes:
    header = msgspec.json.encode(Header(alg=JWS_ALG, kid=kid, typ=COMMAND_TYP))
    signing_input = f"{b64url_encode(header)}.{b64url_encode(msgspec.json.encode(command))}"
    return f"{signing_input}.{b64url_encode(private_key.sign(signing_input.encode()))}".encode()


def open_command(raw: bytes | None) -> Opened:
    """Decode a record value; UntrustedInput (a dead letter) if it cannot be read."""
    if raw is None:
        raise UntrustedInput("value", "is empty (a tombstone is no command)")
    if len(raw) > MAX_COMMAND_BYTES:
        raise UntrustedInput("value", f"is larger than {MAX_COMMAND_BYTES} bytes")
    parts = text(raw, "value").split(".")
    if len(parts) != 3:
        raise UntrustedInput("value", f"is not a compact JWS (3 dot-separated parts, got {len(parts)})")
    header = decode_json(_segment(parts[0], "JWS header"), Header, field="JWS header")
    command = decode_json(_segment(parts[1], "JWS payload"), Command, field="command")
    return Opened(command, header, f"{parts[0]}.{parts[1]}".encode(), _segment(parts[2], "JWS signature"))


def _segment(part: str, field: str) -> bytes:
    try:
        return b64url_decode(part)
    except ValueError as exc:
        raise UntrustedInput(field, str(exc)) from None


def authenticate(state: RegistryState, opened: Opened, moment: dt.datetime) -> IssuerKey:
    """The issuer key that signed the command, or the refusal."""
    header, issuer_id = opened.header, opened.command.issuer_id
    if header.alg != JWS_ALG or header.typ != COMMAND_TYP or header.crit is not None:
        raise Unauthenticated(f"a command is a compact JWS with alg {JWS_ALG!r}, typ {COMMAND_TYP!r} and no crit",
                              code="command-signature-invalid", title="The command's signature is not acceptable")
    signer_id = issuer_id_from_did(split_verification_method(header.kid)[0])
    if signer_id is None or signer_id not in state.issuers:
        raise Unauthenticated(f"kid {header.kid!r} names no registered issuer's key",
                              code="command-signer-unknown", title="The command's signing key is unknown")
    if signer_id != issuer_id:
        raise Forbidden(f"the command is signed by {signer_id}'s key but names issuer {issuer_id!r};"
                        " an issuer sends commands for itself only",
                        code="command-for-another-issuer", title="The command is for another issuer")
    issuer = registered_issuer(state, issuer_id)
    key = issuer_held_key(state, issuer_id, issuer.event.did, header.kid, moment, moment)
    if not ed25519_verify(key.public_key, opened.signature, opened.signing_input):
        raise Unauthenticated(f"the JWS does not verify with {header.kid}: the command was changed after it was"
                              " signed, or signed with another key",
                              code="command-signature-invalid", title="The command's signature does not verify")
    return key
