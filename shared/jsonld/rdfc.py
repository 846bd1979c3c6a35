"""RDFC-1.0 canonical N-Quads of JSON-LD documents, with pyoxigraph.

pyoxigraph (Rust) was measured against pyld, the reference Python
implementation, on the platform's credentials (bench/issue_bulk.py prints
both): it is the faster of the two, and both give byte-identical N-Quads
(tests/unit/test_jsonld_rdfc.py). pyoxigraph takes no document loader, so
the bundled contexts are inlined first; a reference to any other context
fails the parse.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyoxigraph

from shared.jsonld.contexts import ContextLoader

_ENCODER = msgspec.json.Encoder()


class NotCanonicalizable(ValueError):
    """Not JSON-LD that the bundled contexts can turn into RDF."""


def canonical_nquads(document: dict[str, Any], loader: ContextLoader) -> bytes:
    """The RDFC-1.0 canonical N-Quads of `document`: sorted lines, each ending in a newline."""
    try:
        source = _ENCODER.encode(loader.inline(document))
        dataset = pyoxigraph.Dataset(pyoxigraph.parse(source, format=pyoxigraph.RdfFormat.JSON_LD))
    except (SyntaxError, ValueError, TypeError) as exc:
        raise NotCanonicalizable(str(exc)) from None
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.RDFC_1_0)
    serialized = pyoxigraph.serialize(dataset, format=pyoxigraph.RdfFormat.N_QUADS)
    # Split on b"\n" only: N-Quads escapes it inside literals, unlike other
    # line breaks that str.splitlines would also cut at.
    lines = sorted(line + b"\n" for line in serialized.split(b"\n") if line)
    return b"".join(lines)
