"""Merkle compact ranges: the roots of a log's tree from pieces hashed apart.

A range [a, b) of leaves is covered by at most two maximal perfect subtrees
per level (its compact range). Workers that each hash their own range of the
log return just those few nodes; the auditor appends them in order and reads
the RFC 9162 root of any prefix [0, s) from the nodes covering it, without
ever holding the leaves. The tree's levels over one range also give the
compact range of any sub-range starting at its beginning, which is what a
checkpoint of a size inside the range needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from shared.ledger.transparency.merkle import EMPTY_ROOT, node_hash
from shared.ledger.transparency.native import chunkhash

_NODE_PREFIX = b"\x01"  # merkle.py's interior-node prefix (RFC 6962)
Node = tuple[int, int, bytes]  # (level, index at that level, hash)


def reference_parents(nodes: list[bytes], start: int) -> list[bytes]:
    """The parents of nodes[start:], pairwise (a last unpaired node has none)."""
    # node_hash inlined: a call per node is a tenth of a node's cost.
    return [sha256(_NODE_PREFIX + nodes[i] + nodes[i + 1]).digest() for i in range(start, len(nodes) - 1, 2)]


# The optional C accelerator (native.py) hashes a level in one call.
_parents = reference_parents if chunkhash is None else chunkhash.merkle_parents


class RangeLevels:
    """Every perfect subtree inside leaves [first, first + len(leaves))."""

    def __init__(self, first: int, leaves: Sequence[bytes]) -> None:
        self.first, self.end = first, first + len(leaves)
        self._levels: list[tuple[int, list[bytes]]] = [(first, list(leaves))]
        lo, nodes = first, self._levels[0][1]
        while len(nodes) > 1 or (nodes and lo & 1):
            # A left node at an odd index belongs to a parent reaching outside the range.
            start = lo + (lo & 1)
            offset = start - lo
            parents = _parents(nodes, offset)
            if not parents:
                break
            lo, nodes = start >> 1, parents
            self._levels.append((lo, nodes))

    def compact(self, end: int) -> list[Node]:
        """The compact range of leaves [first, end), left to right."""
        lo, hi, level = self.first, end, 0
        left: list[Node] = []
        right: list[Node] = []
        while lo < hi:
            base, nodes = self._levels[level]
            if lo & 1:
                left.append((level, lo, nodes[lo - base]))
                lo += 1
            if hi & 1:
                right.append((level, hi - 1, nodes[hi - 1 - base]))
                hi -= 1
            lo, hi, level = lo >> 1, hi >> 1, level + 1
        return left + right[::-1]


class Frontier:
    """The compact range of leaves [0, size), grown by appending compact ranges in order."""

    def __init__(self) -> None:
        self.size = 0
        self.nodes: list[Node] = []

    def extend(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            self.nodes = appended(self.nodes, node)
            self.size = (node[1] + 1) << node[0]

    def root_with(self, more: Iterable[Node] = ()) -> bytes:
        """MTH(D[0:n]) of this prefix followed by `more` (a compact range starting where it ends)."""
        nodes = self.nodes
        for node in more:
            nodes = appended(nodes, node)
        if not nodes:
            return EMPTY_ROOT
        result = nodes[-1][2]
        for _, _, digest in reversed(nodes[:-1]):
            result = node_hash(digest, result)
        return result


def appended(nodes: list[Node], node: Node) -> list[Node]:
    """`nodes` with `node` (the next perfect subtree to the right) added, siblings merged."""
    nodes = [*nodes, node]
    while len(nodes) >= 2:
        (level_a, index_a, hash_a), (level_b, index_b, hash_b) = nodes[-2], nodes[-1]
        if level_a != level_b or index_a & 1 or index_b != index_a + 1:
            break
        nodes[-2:] = [(level_a + 1, index_a >> 1, node_hash(hash_a, hash_b))]
    return nodes
