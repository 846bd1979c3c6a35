"""Roots read from compact ranges hashed apart equal the whole tree's roots."""

from __future__ import annotations

import hashlib

import pytest

from shared.ledger.transparency.compact_range import Frontier, RangeLevels
from shared.ledger.transparency.merkle import EMPTY_ROOT, MerkleTree, leaf_hash


@pytest.mark.parametrize(("leaves", "range_size"), [(1, 1), (2, 1), (7, 3), (64, 8), (100, 10), (300, 37), (513, 64)])
def test_every_prefix_root_matches_the_tree(leaves, range_size):
    hashes = [leaf_hash(hashlib.sha256(str(n).encode()).digest()) for n in range(leaves)]
    tree = MerkleTree()
    tree.extend(hashes)
    frontier = Frontier()
    assert frontier.root_with() == EMPTY_ROOT
    for first in range(0, leaves, range_size):
        end = min(first + range_size, leaves)
        levels = RangeLevels(first, hashes[first:end])
        for size in range(first + 1, end + 1):
            assert frontier.root_with(levels.compact(size)) == tree.root(size)
        frontier.extend(levels.compact(end))
        assert frontier.size == end
    assert frontier.root_with() == tree.root()
