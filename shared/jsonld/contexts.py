"""Every JSON-LD context the platform reads, bundled, and a loader that
knows only those: no context is ever fetched over the network, so neither
issuance nor verification can be slowed, broken or steered by a remote host.

The platform's own context is served on each deployment's public origin,
like its DIDs and status lists; its bytes are the same everywhere and are
never changed once published (a change is a new version at a new URL).
Sources of the bundled files: contexts/SOURCES.md.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final

import msgspec

from shared.credential_format import OB_CONTEXT, VC_CONTEXT

CONTEXT_DIR: Final = Path(__file__).resolve().parent / "contexts"
PLATFORM_CONTEXT_PATH: Final = "/contexts/credledger/v1.jsonld"
PLATFORM_CONTEXT_FILE: Final = "credledger-v1.jsonld"
DATA_INTEGRITY_CONTEXT: Final = "https://w3id.org/security/data-integrity/v2"
ED25519_2020_CONTEXT: Final = "https://w3id.org/security/suites/ed25519-2020/v1"
MULTIKEY_CONTEXT: Final = "https://w3id.org/security/multikey/v1"
DID_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
# Well-known URL -> bundled file.
BUNDLED: Final = {
    VC_CONTEXT: "credentials-v2.jsonld",
    "https://www.w3.org/ns/credentials/examples/v2": "credentials-examples-v2.jsonld",
    "https://www.w3.org/ns/credentials/status/v1": "credentials-status-v1.jsonld",
    OB_CONTEXT: "ob-v3p0-context-3.0.3.json",
    DATA_INTEGRITY_CONTEXT: "data-integrity-v2.jsonld",
    ED25519_2020_CONTEXT: "ed25519-signature-2020-v1.jsonld",
    MULTIKEY_CONTEXT: "multikey-v1.jsonld",
    DID_CONTEXT: "did-v1.jsonld",
}


class UnknownContext(ValueError):
    """A document names a context that is not bundled."""


def platform_context_url(public_base_url: str) -> str:
    return public_base_url.rstrip("/") + PLATFORM_CONTEXT_PATH


def platform_context_bytes() -> bytes:
    """The published bytes, exactly (a test pins their SHA-256)."""
    return _file_bytes(PLATFORM_CONTEXT_FILE)


class ContextLoader:
    """Resolves the bundled context URLs of one deployment, and nothing else."""

    def __init__(self, public_base_url: str) -> None:
        self._files = {**BUNDLED, platform_context_url(public_base_url): PLATFORM_CONTEXT_FILE}
        self.platform_context = platform_context_url(public_base_url)

    def knows(self, url: str) -> bool:
        return url in self._files

    def document(self, url: str) -> dict[str, Any]:
        """The whole context document (what a JSON-LD document loader returns)."""
        try:
            name = self._files[url]
        except (KeyError, TypeError):
            raise UnknownContext(f"context {url!r} is not one the platform bundles") from None
        return _parsed(name)

    def inline(self, document: Any) -> Any:
        """A copy of `document` whose context references, at any depth (a
        proof's own `@context` too), are replaced by the bundled definitions,
        for processors that take no loader. Raises UnknownContext."""
        if isinstance(document, list):
            return [self.inline(item) for item in document]
        if not isinstance(document, dict):
            return document
        inlined = {key: self.inline(value) for key, value in document.items() if key != "@context"}
        if "@context" in document:
            context = document["@context"]
            entries = context if isinstance(context, list) else [context]
            inlined["@context"] = [self.document(e)["@context"] if isinstance(e, str) else e for e in entries]
        return inlined


@functools.cache
def _file_bytes(name: str) -> bytes:
    return (CONTEXT_DIR / name).read_bytes()


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    return msgspec.json.decode(_file_bytes(name), type=dict[str, Any])


@functools.cache
def defined_terms() -> frozenset[str]:
    """Every term any bundled context defines, at any depth (scoped ones too):
    a value `term:rest` could be a compact IRI wherever the term is active."""
    terms: set[str] = set()

    def collect(context: Any) -> None:
        for entry in context if isinstance(context, list) else [context]:
            if isinstance(entry, dict):
                for term, definition in entry.items():
                    if not term.startswith("@"):
                        terms.add(term)
                    if isinstance(definition, dict) and "@context" in definition:
                        collect(definition["@context"])

    for name in {*BUNDLED.values(), PLATFORM_CONTEXT_FILE}:
        collect(_parsed(name)["@context"])
    return frozenset(terms)
