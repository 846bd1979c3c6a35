"""RDFC-1.0 of a batch's credentials without converting each one from JSON-LD.

JSON-LD to RDF is by far the dearest step of an eddsa-rdfc-2022 proof (the
contexts are processed anew for every document), and a batch's credentials
differ only in a few leaf values: ids, dates, the learner's hash and salt,
the status index, the grade, evidence. So the library converts a
*prototype* once: the document with each of those leaves replaced by a
unique placeholder IRI. Each placeholder comes out as whole subjects or
objects of one kind (an IRI, or a literal with its datatype or language),
and for the values allowed here neither where nor what kind depends on the
value; so each credential's dataset is the prototype's with its own values
put back. The prototype's quads are compiled into canonical N-Quads
lines with holes (shared/jsonld/rdfc_direct.py), which take each
credential's values as N-Quads terms (pyoxigraph's term text, so escaped as
the library escapes them); when the first-degree hashes do not settle the
blank nodes' labels, the values go back into the quads as pyoxigraph terms,
which pyoxigraph canonicalizes (RDFC-1.0) as usual.

Whatever does not meet those conditions takes the full library path: a
prototype in which a placeholder is missing, reshaped or inside another
term, and an IRI-valued leaf that is not an absolute IRI pyoxigraph
accepts, starts with a term name (it could be a compact IRI) or names a
blank node.
tests/unit/test_rdfc_prototypes.py checks the two paths agree byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec
import pyoxigraph

from shared.crypto.jcs import canonicalize
from shared.jsonld.contexts import ContextLoader, defined_terms
from shared.jsonld.rdfc import canonicalize_quads, published_nquads, to_quads
from shared.jsonld.rdfc_direct import Slot, Template

PLACEHOLDER: Final = "urn:x-credledger-slot:"
WILDCARD: Final = "*"
# The leaves that vary between credentials of one batch (paths into the
# document; WILDCARD stands for every element of a list).
CREDENTIAL_LEAVES: Final = (
    ("id",), ("validFrom",), ("awardedDate",), ("validUntil",),
    ("credentialSubject", "identifier", WILDCARD, "identityHash"),
    ("credentialSubject", "identifier", WILDCARD, "salt"),
    ("credentialSubject", "result", WILDCARD, "value"),
    ("credentialStatus", "id"), ("credentialStatus", "statusListIndex"), ("credentialStatus", "statusListCredential"),
    ("evidence", WILDCARD, "id"), ("evidence", WILDCARD, "name"),
    ("evidence", WILDCARD, "narrative"), ("evidence", WILDCARD, "genre"),
)
_PLACEHOLDER_BYTES: Final = PLACEHOLDER.encode()
_ENCODE = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a placeholder became: an IRI (datatype and language None) or a literal."""

    datatype: pyoxigraph.NamedNode | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class _Prototype:
    """The prototype's quads: those without a placeholder as they are, and
    those with one as (quad, subject slot, object slot), a slot being the
    placeholder number of a whole subject or object (None: keep the term)."""

    fixed: list[pyoxigraph.Quad]
    varying: list[tuple[pyoxigraph.Quad, int | None, int | None]]
    kinds: list[_Kind]  # per placeholder number
    substitutable: bool
    template: Template | None = None  # the quads as canonical lines, the placeholders as slots


class RdfcPrototypes:
    """Canonical N-Quads of credentials, converting one prototype per shape."""

    def __init__(self, loader: ContextLoader, leaves: tuple[tuple[str, ...], ...] = CREDENTIAL_LEAVES,
                 limit: int = 1024) -> None:
        self.loader = loader
        self._leaves = leaves
        # Kept for the life of a service (inline signing): shapes beyond the
        # limit push out the oldest, so memory stays bounded.
        self._limit = limit
        self._prototypes: dict[bytes, _Prototype] = {}

    def canonical_nquads(self, document: dict[str, Any]) -> bytes:
        """What shared.jsonld.rdfc.canonical_nquads gives, byte for byte, for
        the document as published (its RFC 8785 bytes parsed back). It may be
        given as built: with canonical JSON embedded as msgspec.Raw (as
        signing embeds the achievement) and floats that publish as integers."""
        values: list[str] = []
        prototype_document = _with_placeholders(document, self._leaves, values)
        key = _ENCODE(prototype_document)
        if key.count(_PLACEHOLDER_BYTES) != len(values):
            return published_nquads(document, self.loader)  # the document itself holds placeholder text
        prototype = self._prototypes.get(key)
        if prototype is None:
            if len(self._prototypes) >= self._limit:
                del self._prototypes[next(iter(self._prototypes))]
            prototype = self._prototypes[key] = _prototype(to_quads(_published(prototype_document), self.loader),
                                                           len(values))
        if prototype.template is not None:
            texts = _texts(prototype.kinds, values)
            canonical = None if texts is None else prototype.template.canonical(texts)
            if canonical is not None:
                return canonical
        quads = _substituted(prototype, values)
        if quads is None:
            return published_nquads(document, self.loader)
        return canonicalize_quads(quads)


def _published(document: dict[str, Any]) -> Any:
    # Only the leaves vary between documents of one prototype, and they are
    # strings, which publish as they are; the rest is the prototype's.
    return msgspec.json.decode(canonicalize(document))


def _with_placeholders(node: dict[str, Any], leaves: tuple[tuple[str, ...], ...], values: list[str]) -> dict[str, Any]:
    """A copy of the document with each string leaf on `leaves` replaced by the
    next placeholder; the replaced values, in order, go to `values`."""
    copied = dict(node)
    for path in leaves:
        _replace(copied, path, values)
    return copied


def _replace(node: Any, path: tuple[str, ...], values: list[str]) -> None:
    step, rest = path[0], path[1:]
    if step == WILDCARD:
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, dict):
                    node[index] = dict(item)
                    _replace(node[index], rest, values)
        return
    if not isinstance(node, dict) or step not in node:
        return
    child = node[step]
    if not rest:
        if isinstance(child, str):
            values.append(child)
            node[step] = f"{PLACEHOLDER}{len(values) - 1}"
        return
    node[step] = list(child) if isinstance(child, list) else dict(child) if isinstance(child, dict) else child
    _replace(node[step], rest, values)


def _prototype(quads: list[pyoxigraph.Quad], count: int) -> _Prototype:
    """Sort the prototype's quads into fixed and varying ones, if each
    placeholder became whole subjects or objects of one kind; else mark it
    unsubstitutable."""
    unusable = _Prototype([], [], [], substitutable=False)
    kinds: dict[int, _Kind] = {}
    fixed, varying = [], []
    for quad in quads:
        slots: list[int | None] = []
        for position, term in enumerate((quad.subject, quad.predicate, quad.object, quad.graph_name)):
            text = getattr(term, "value", "")
            if PLACEHOLDER not in text:
                slots.append(None)
                continue
            number = _placeholder_number(text)
            if number is None or position not in (0, 2) or kinds.setdefault(number, _kind_of(term)) != _kind_of(term):
                return unusable  # reshaped, inside another term, or not a whole subject or object
            slots.append(number)
        if slots[0] is None and slots[2] is None:
            fixed.append(quad)
        else:
            varying.append((quad, slots[0], slots[2]))
    if sorted(kinds) != list(range(count)):
        return unusable  # a leaf that made no term (dropped)
    template = Template([*((q.subject, q.predicate, q.object, q.graph_name) for q in fixed),
                         *((q.subject if s is None else Slot(s), q.predicate, q.object if o is None else Slot(o),
                            q.graph_name) for q, s, o in varying)])
    return _Prototype(fixed, varying, [kinds[n] for n in range(count)], substitutable=True, template=template)


def _placeholder_number(text: str) -> int | None:
    digits = text.removeprefix(PLACEHOLDER)
    return int(digits) if text.startswith(PLACEHOLDER) and digits.isdigit() else None


def _kind_of(term: Any) -> _Kind:
    if isinstance(term, pyoxigraph.Literal):
        return _Kind(term.datatype if term.language is None else None, term.language)
    return _Kind()


def _substituted(prototype: _Prototype, values: list[str]) -> list[pyoxigraph.Quad] | None:
    """The credential's quads: the prototype's with its values in their
    places; None if a value cannot go there. Built as terms, not N-Quads
    text to parse: the same quads, for about half the work."""
    if not prototype.substitutable:
        return None
    terms = []
    for kind, value in zip(prototype.kinds, values, strict=False):
        term = _term(kind, value)
        if term is None:
            return None
        terms.append(term)
    quads = list(prototype.fixed)
    for quad, subject, object_ in prototype.varying:
        new_subject = quad.subject if subject is None else terms[subject]
        if isinstance(new_subject, pyoxigraph.Literal):
            return None  # a value that reads as a literal cannot name a subject
        quads.append(pyoxigraph.Quad(new_subject, quad.predicate,
                                     quad.object if object_ is None else terms[object_], quad.graph_name))
    return quads


def _texts(kinds: list[_Kind], values: list[str]) -> list[str] | None:
    """The values as the N-Quads terms they become (pyoxigraph's own text of
    the terms _substituted would build); None if one cannot go there."""
    texts = []
    for kind, value in zip(kinds, values, strict=False):
        term = _term(kind, value)
        if term is None:
            return None
        texts.append(str(term))
    return texts


def _term(kind: _Kind, value: str) -> pyoxigraph.NamedNode | pyoxigraph.Literal | None:
    if kind.language is not None:
        return pyoxigraph.Literal(value, language=kind.language)
    if kind.datatype is not None:
        return pyoxigraph.Literal(value, datatype=kind.datatype)
    prefix, colon, _ = value.partition(":")
    if not colon or prefix == "_" or prefix in defined_terms():
        return None  # relative, a blank node, or possibly a compact IRI
    try:
        return pyoxigraph.NamedNode(value)
    except ValueError:
        return None
