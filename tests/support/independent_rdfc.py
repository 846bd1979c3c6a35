"""An independent verifier of W3C Data Integrity `eddsa-rdfc-2022` proofs and
of proof sets, and a strict ("safe mode") JSON-LD expansion check.

Written from the spec text (W3C "Data Integrity EdDSA Cryptosuites v1.0",
section 3.2 "eddsa-rdfc-2022"; VC Data Integrity 2.1.2 proof sets) with pyld,
the reference Python JSON-LD implementation, where the platform uses
pyoxigraph; it shares no code with `shared/` and reads the bundled context
files only as data, through a loader that refuses any other URL.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld

from tests.support import independent_eddsa

_CONTEXT_DIR = Path(__file__).resolve().parents[2] / "shared" / "jsonld" / "contexts"
_WELL_KNOWN = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
    "https://w3id.org/security/suites/ed25519-2020/v1": "ed25519-signature-2020-v1.jsonld",
}
PLATFORM_CONTEXT_PATH = "/contexts/credledger/v1.jsonld"


@functools.cache
def _context(name: str) -> dict[str, Any]:
    return json.loads((_CONTEXT_DIR / name).read_text())


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """Bundled contexts only; the platform's context is known by its path on any origin."""
    name = _WELL_KNOWN.get(url) or ("credledger-v1.jsonld" if url.endswith(PLATFORM_CONTEXT_PATH) else None)
    if name is None:
        raise jsonld.JsonLdError(f"refusing to load {url}", "jsonld.LoadDocumentError", code="loading document failed")
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_context(name))}


def canonize(document: dict[str, Any]) -> bytes:
    return jsonld.normalize(document, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                       "documentLoader": document_loader}).encode()


def verify_proof(unsecured: dict[str, Any], proof: Any, public_key: bytes,
                 expected_purpose: str = "assertionMethod") -> bool:
    """One eddsa-rdfc-2022 proof over the document without any proof."""
    if not isinstance(proof, dict) or not isinstance(proof.get("proofValue"), str):
        return False
    if (proof.get("type"), proof.get("cryptosuite")) != ("DataIntegrityProof", "eddsa-rdfc-2022"):
        return False
    if proof.get("proofPurpose") != expected_purpose:
        return False
    options = {k: copy.deepcopy(v) for k, v in proof.items() if k != "proofValue"}
    unsecured = copy.deepcopy(unsecured)
    if "@context" in options:
        if _as_list(unsecured.get("@context"))[:len(_as_list(options["@context"]))] != _as_list(options["@context"]):
            return False
        unsecured["@context"] = options["@context"]
    # Proof configuration: the options with the document's @context.
    options["@context"] = unsecured.get("@context")
    try:
        signature = independent_eddsa.multibase_decode(proof["proofValue"])
        hash_data = hashlib.sha256(canonize(options)).digest() + hashlib.sha256(canonize(unsecured)).digest()
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, hash_data)
    except (InvalidSignature, ValueError, jsonld.JsonLdError):
        return False
    return True


def verify_proof_set(secured: dict[str, Any], public_key: bytes) -> dict[str, bool]:
    """Each proof's outcome by cryptosuite; every proof signs the document without `proof`."""
    proofs = secured.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    outcomes = {}
    for proof in proofs:
        suite = proof.get("cryptosuite") if isinstance(proof, dict) else None
        check = verify_proof if suite == "eddsa-rdfc-2022" else independent_eddsa.verify_proof
        outcomes[str(suite)] = check(unsecured, proof, public_key)
    return outcomes


def dropped_terms(document: dict[str, Any]) -> list[str]:
    """What strict ("safe mode") expansion would reject: every property the
    document names that expansion drops, by its JSON path.

    pyld has no safe mode, so this expands each node's properties one by one
    in context: a property that maps to no IRI expands to nothing.
    """
    expanded = jsonld.expand(document, {"documentLoader": document_loader})
    dropped: list[str] = []
    _compare(document, expanded[0] if expanded else {}, "$", dropped)
    return dropped


def _compare(node: Any, expanded: Any, path: str, dropped: list[str]) -> None:
    if isinstance(expanded, dict) and "@graph" in expanded and len(expanded["@graph"]) == 1:
        expanded = expanded["@graph"][0]  # a graph container (a proof): its one node
    if isinstance(node, list):
        items = expanded.get("@list", expanded) if isinstance(expanded, dict) else expanded
        for index, (item, expanded_item) in enumerate(zip(node, _nodes(items), strict=False)):
            _compare(item, expanded_item, f"{path}[{index}]", dropped)
        return
    if not isinstance(node, dict) or not isinstance(expanded, dict):
        return
    properties = [k for k in expanded if not k.startswith("@")]
    plain = [k for k in node if not k.startswith("@") and k not in ("id", "type")]
    if len(properties) < len(plain):
        known = {_local_name(iri) for iri in properties}
        dropped.extend(f"{path}.{key}" for key in plain if key not in known)
    for key in plain:
        match = next((iri for iri in properties if _local_name(iri) == key), None)
        if match is not None:
            values = expanded[match]
            _compare(node[key], values if isinstance(node[key], list) else (values[0] if values else {}),
                     f"{path}.{key}", dropped)


def _nodes(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]


def _local_name(iri: str) -> str:
    return iri.rstrip("/").rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
