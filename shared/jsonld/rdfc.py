"""RDFC-1.0 canonical N-Quads of JSON-LD documents, with pyoxigraph.

pyoxigraph (Rust) was measured against pyld, the reference Python
implementation, on the platform's credentials (bench/issue_bulk.py prints
both): it is the faster of the two, and both give byte-identical N-Quads
(tests/unit/test_jsonld_contexts.py). pyoxigraph takes no document loader,
so the bundled contexts are inlined first; a reference to any other context
fails the parse.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pyoxigraph

from shared.crypto.jcs import canonicalize
from shared.jsonld.contexts import ContextLoader

_ENCODER = msgspec.json.Encoder()


class NotCanonicalizable(ValueError):
    """Not JSON-LD that the bundled contexts can turn into RDF."""


def to_quads(document: Any, loader: ContextLoader) -> list[pyoxigraph.Quad]:
    """The RDF dataset `document` denotes (JSON-LD to RDF), as quads."""
    try:
        source = _ENCODER.encode(loader.inline(document))
        return list(pyoxigraph.parse(source, format=pyoxigraph.RdfFormat.JSON_LD))
    except (SyntaxError, ValueError, TypeError) as exc:
        raise NotCanonicalizable(str(exc)) from None


def canonicalize_quads(quads: Iterable[pyoxigraph.Quad]) -> bytes:
    """RDFC-1.0 of a dataset: canonical N-Quads, sorted lines, each ending in a newline."""
    dataset = pyoxigraph.Dataset(quads)
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.RDFC_1_0)
    serialized = pyoxigraph.serialize(dataset, format=pyoxigraph.RdfFormat.N_QUADS)
    assert serialized is not None  # None only when an output file is given
    # Split on b"\n" only: N-Quads escapes it inside literals, unlike other
    # line breaks that bytes.splitlines would also cut at.
    return b"".join(sorted(line + b"\n" for line in serialized.split(b"\n") if line))


def canonical_nquads(document: dict[str, Any], loader: ContextLoader) -> bytes:
    """The RDFC-1.0 canonical N-Quads of `document`."""
    return canonicalize_quads(to_quads(document, loader))


def published_nquads(document: dict[str, Any], loader: ContextLoader) -> bytes:
    """The RDFC-1.0 canonical N-Quads of `document` as published: of its
    RFC 8785 bytes parsed back, as every verifier reads it (a float 5.0 is
    published as 5, an integer; msgspec.Raw parts are canonical JSON)."""
    return canonical_nquads(msgspec.json.decode(canonicalize(document)), loader)
