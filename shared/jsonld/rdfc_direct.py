"""RDFC-1.0 (W3C RDF Dataset Canonicalization) of a fixed dataset shape, in Python.

A credential's dataset is its prototype's with some whole terms changed
(shared/jsonld/rdfc_prototypes.py). Handing each one to pyoxigraph meant
building its quads as terms, then a Dataset, canonicalizing and serializing
it: ~0.2-0.5 ms a credential, the dearest part of an eddsa-rdfc-2022 proof.
Here the shape is compiled once into N-Quads lines with holes: the
fixed terms already in canonical form (pyoxigraph's own term text), the
blank nodes and the open terms ("slots") left as str.format fields. Each
credential then costs the slots' text, the first-degree hash (RDFC-1.0
§4.6) of each blank node whose quads hold a slot (the others' hashes are
constant), one sort and one join.

Only the first-degree step is done. RDFC-1.0 §4.4.3 step 5 issues canonical
identifiers in hash order to blank nodes whose hash is unique; when every
hash is unique, that is the whole labelling (step 6, the N-degree hashes,
has nothing to do). When two hashes collide, or two quads turn out equal
(a dataset is a set), `Template.canonical` answers None and the caller
uses the library. tests/unit/test_rdfc_direct.py checks the W3C rdf-canon
vectors and generated datasets against pyoxigraph byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import pyoxigraph

_HASH_SELF: Final = "_:a"  # RDFC-1.0 §4.6.3: the reference blank node
_HASH_OTHER: Final = "_:z"  # and any other
_LABELLINGS: Final = 256  # kept per template


@dataclass(frozen=True, slots=True)
class Slot:
    """An open term: the `number`th of the texts given to Template.canonical."""

    number: int


Part = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | pyoxigraph.DefaultGraph | pyoxigraph.Triple | Slot
Quad = tuple[Part, Part, Part, Part]


@dataclass(frozen=True, slots=True)
class _Blank:
    """One blank node's first-degree hash: constant, or from its quads' lines
    (`lines` constant, `templates` with slots, over the slot texts)."""

    index: int
    lines: tuple[str, ...]
    templates: tuple[str, ...]


class Template:
    """The canonical N-Quads of a dataset shape, for any texts of its slots."""

    def __init__(self, quads: list[Quad]) -> None:
        unique = list(dict.fromkeys(quads))  # a dataset is a set
        # RDF 1.2 triple terms are outside RDFC-1.0: left to the library.
        self._usable = not any(isinstance(part, pyoxigraph.Triple) for quad in unique for part in quad)
        blanks: dict[str, int] = {}
        for quad in unique:
            for part in quad:
                if isinstance(part, pyoxigraph.BlankNode):
                    blanks.setdefault(part.value, len(blanks))
        self._count = len(blanks)
        # Canonical lines: slot n is field count + n, after the labels.
        plain: list[str] = []
        labelled: list[str] = []  # lines with blank nodes only
        templates: list[str] = []  # lines with slots
        hash_lines: list[list[str]] = [[] for _ in blanks]
        hash_templates: list[list[str]] = [[] for _ in blanks]
        for quad in unique:
            mentioned = {blanks[p.value] for p in quad if isinstance(p, pyoxigraph.BlankNode)}
            has_slot = any(isinstance(p, Slot) for p in quad)
            line = _line(quad, lambda b: f"_:{{{blanks[b]}}}", self._count)
            if has_slot:
                templates.append(line)
            else:
                (labelled if mentioned else plain).append(line if mentioned else line.format())
            for index in mentioned:
                own = _line(quad, functools.partial(_hash_text, blanks, index), 0)
                (hash_templates if has_slot else hash_lines)[index].append(own if has_slot else own.format())
        self._plain = plain
        self._labelled = labelled
        self._templates = templates
        # The lines without slots, sorted, for each labelling seen: only the
        # blank nodes with varying hashes move, so there are few labellings.
        self._sorted: dict[tuple[int, ...], list[str]] = {}
        self._constant: list[bytes] = [b""] * self._count
        varying = []
        for index in range(self._count):
            if hash_templates[index]:
                varying.append(_Blank(index, tuple(hash_lines[index]), tuple(hash_templates[index])))
            else:
                self._constant[index] = _first_degree_hash(hash_lines[index])
        self._varying = tuple(varying)

    def canonical(self, texts: list[str]) -> bytes | None:
        """The RDFC-1.0 canonical N-Quads (sorted lines, each ending in a
        newline) with `texts` (canonical N-Quads terms) in the slots; None
        when the first-degree hashes do not label every blank node, or two
        quads are the same quad."""
        if not self._usable:
            return None
        hashes = list(self._constant)
        try:
            for blank in self._varying:
                hashes[blank.index] = _first_degree_hash(
                    [*blank.lines, *(template.format(*texts) for template in blank.templates)])
            if len(set(hashes)) < self._count:
                return None  # shared hashes: the N-degree step decides, so the library does
            order = tuple(sorted(range(self._count), key=hashes.__getitem__))
            labels = [""] * self._count
            for rank, index in enumerate(order):
                labels[index] = f"c14n{rank}"
            fields = labels + texts
            lines = self._without_slots(order, labels) + [template.format(*fields) for template in self._templates]
            if len(set(lines)) < len(lines):
                return None  # values made two quads one
            lines.sort()  # code point order: the UTF-8 bytes' order
            return "".join(lines).encode()
        except UnicodeEncodeError:
            return None  # a lone surrogate: no N-Quads for it; the library says why

    def _without_slots(self, order: tuple[int, ...], labels: list[str]) -> list[str]:
        found = self._sorted.get(order)
        if found is None:
            if len(self._sorted) >= _LABELLINGS:
                self._sorted.clear()
            found = self._sorted[order] = sorted(
                [*self._plain, *(template.format(*labels) for template in self._labelled)])
        return found


def canonicalize(quads: list[pyoxigraph.Quad]) -> bytes | None:
    """RDFC-1.0 of a whole dataset, or None when the first-degree hashes do not suffice."""
    return Template([(q.subject, q.predicate, q.object, q.graph_name) for q in quads]).canonical([])


def _first_degree_hash(lines: list[str]) -> bytes:
    """SHA-256 of the blank node's quad lines in code point order (RDFC-1.0 §4.6.3)."""
    return hashlib.sha256("".join(sorted(lines)).encode()).digest()


def _hash_text(blanks: dict[str, int], reference: int, name: str) -> str:
    return _HASH_SELF if blanks[name] == reference else _HASH_OTHER


def _line(quad: Quad, blank: Callable[[str], str], slot_base: int) -> str:
    """A str.format template of the quad's canonical N-Quads line: `blank`
    gives a blank node's text (a field, or _:a / _:z), slot n is field
    slot_base + n."""
    texts = []
    for part in quad:
        if isinstance(part, Slot):
            texts.append(f"{{{slot_base + part.number}}}")
        elif isinstance(part, pyoxigraph.BlankNode):
            texts.append(blank(part.value))
        elif not isinstance(part, pyoxigraph.DefaultGraph):
            texts.append(str(part).replace("{", "{{").replace("}", "}}"))
    return " ".join(texts) + " .\n"
