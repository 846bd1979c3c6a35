"""did:key identifiers for Ed25519 keys (https://w3c-ccg.github.io/did-key-spec/).

A did:key *is* its public key, so resolving one is pure decoding: no network,
no registry. That makes it the natural issuer identifier for tests and for
keys the ledger manages itself.
"""

from __future__ import annotations

from typing import Any, Final

from shared.crypto.multibase import multibase_to_public_key, public_key_to_multibase

DID_KEY_PREFIX: Final = "did:key:"
DID_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT: Final = "https://w3id.org/security/multikey/v1"


def did_key_from_public_key(raw: bytes) -> str:
    """Return 'did:key:z6Mk...' for a raw 32-byte Ed25519 public key."""
    return DID_KEY_PREFIX + public_key_to_multibase(raw)


def verification_method_id(raw: bytes) -> str:
    """Return the key's verification method id, 'did:key:z6Mk...#z6Mk...'.

    did:key uses the multibase value itself as the fragment, so the id is
    derivable from the key alone.
    """
    multikey = public_key_to_multibase(raw)
    return f"{DID_KEY_PREFIX}{multikey}#{multikey}"


def public_key_from_did_key(did_or_vm: str) -> bytes:
    """Extract the raw Ed25519 public key from a did:key DID or verification method id.

    A fragment, when present, must repeat the method-specific id: any other
    fragment names a key this DID document does not contain.
    """
    if not isinstance(did_or_vm, str) or not did_or_vm.startswith(DID_KEY_PREFIX):
        raise ValueError(f"not a did:key identifier: {did_or_vm!r}")
    multikey, has_fragment, fragment = did_or_vm[len(DID_KEY_PREFIX) :].partition("#")
    if has_fragment and fragment != multikey:
        raise ValueError(f"did:key fragment {fragment!r} does not match the key {multikey!r}")
    return multibase_to_public_key(multikey)


def did_key_document(raw: bytes) -> dict[str, Any]:
    """Build the DID document a did:key resolver returns for an Ed25519 key.

    Only the relationships credentials need are listed: assertionMethod for
    issuing and authentication for presentations.
    """
    did = did_key_from_public_key(raw)
    vm_id = verification_method_id(raw)
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_to_multibase(raw),
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
    }
