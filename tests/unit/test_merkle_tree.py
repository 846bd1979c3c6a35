"""MerkleTree proofs and roots checked against a literal transcription of RFC 9162 §2.1."""

import itertools

import pytest

from shared.ledger.transparency.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 70  # spans several powers of two, and trees of every shape up to 2**6 + 6
LEAVES = [leaf_hash(b"entry-%d" % i) for i in range(MAX_SIZE)]


def _split(n: int) -> int:
    """k: the largest power of two smaller than n."""
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def naive_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(naive_mth(hashes[:k]), naive_mth(hashes[k:]))


def naive_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if m < k:
        return naive_path(m, hashes[:k]) + [naive_mth(hashes[k:])]
    return naive_path(m - k, hashes[k:]) + [naive_mth(hashes[:k])]


def naive_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [naive_mth(hashes)]
    k = _split(n)
    if m <= k:
        return naive_subproof(m, hashes[:k], complete) + [naive_mth(hashes[k:])]
    return naive_subproof(m - k, hashes[k:], False) + [naive_mth(hashes[:k])]


@pytest.fixture(scope="module")
def tree() -> MerkleTree:
    return MerkleTree(LEAVES)


def test_root_matches_naive_mth_for_every_size(tree):
    assert len(tree) == MAX_SIZE
    for n in range(MAX_SIZE + 1):
        assert tree.root(n) == naive_mth(LEAVES[:n]), n
    assert tree.root() == tree.root(MAX_SIZE)


def test_append_and_chunked_extend_build_the_same_tree(tree):
    appended = MerkleTree()
    for i, h in enumerate(LEAVES):
        assert appended.append(h) == i
    chunked = MerkleTree()
    for start in range(0, MAX_SIZE, 7):
        chunked.extend(LEAVES[start : start + 7])
    for n in range(MAX_SIZE + 1):
        assert appended.root(n) == chunked.root(n) == tree.root(n), n
    assert appended.inclusion_proof(5, 37) == chunked.inclusion_proof(5, 37)


def test_inclusion_proofs_for_all_index_size_pairs(tree):
    for n in range(1, MAX_SIZE + 1):
        root = tree.root(n)
        for index in range(n):
            proof = tree.inclusion_proof(index, n)
            assert proof == naive_path(index, LEAVES[:n]), (index, n)
            assert verify_inclusion(index, n, LEAVES[index], proof, root), (index, n)


def test_consistency_proofs_for_all_size_pairs(tree):
    for m, n in itertools.combinations_with_replacement(range(1, MAX_SIZE + 1), 2):
        proof = tree.consistency_proof(m, n)
        assert proof == naive_subproof(m, LEAVES[:n], True), (m, n)
        assert verify_consistency(m, n, tree.root(m), tree.root(n), proof), (m, n)


def test_rfc9162_worked_example_seven_leaves():
    # RFC 9162 §2.1.5 names the nodes of the 7-leaf tree; rebuild them by name.
    a, b, c, d, e, f, j = (leaf_hash(b"d%d" % i) for i in range(7))
    g, h, i = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l = node_hash(g, h), node_hash(i, j)
    tree = MerkleTree([a, b, c, d, e, f, j])
    assert tree.root() == node_hash(k, l)
    assert tree.inclusion_proof(0) == [b, h, l]
    assert tree.inclusion_proof(3) == [c, g, l]
    assert tree.inclusion_proof(4) == [f, j, k]
    assert tree.inclusion_proof(6) == [i, k]
    assert tree.consistency_proof(3) == [c, d, g, l]
    assert tree.consistency_proof(4) == [l]
    assert tree.consistency_proof(6) == [i, j, k]


def _flip_bit(digest: bytes) -> bytes:
    return bytes([digest[0] ^ 0x01]) + digest[1:]


@pytest.mark.parametrize("index, size", [(0, 1), (0, 2), (5, 37), (36, 37), (63, 64), (64, 70)])
def test_mutated_inclusion_proof_fails(tree, index, size):
    proof, root, leaf = tree.inclusion_proof(index, size), tree.root(size), LEAVES[index]
    for pos in range(len(proof)):
        mutated = proof[:pos] + [_flip_bit(proof[pos])] + proof[pos + 1 :]
        assert not verify_inclusion(index, size, leaf, mutated, root)
    assert not verify_inclusion(index, size, leaf, proof + [LEAVES[0]], root)
    if proof:
        assert not verify_inclusion(index, size, leaf, proof[:-1], root)
    assert not verify_inclusion(index, size, _flip_bit(leaf), proof, root)
    assert not verify_inclusion(index, size, leaf, proof, _flip_bit(root))
    if index ^ 1 < size:  # claiming the sibling's position swaps the first hash order
        assert not verify_inclusion(index ^ 1, size, leaf, proof, root)


@pytest.mark.parametrize("m, n", [(1, 2), (3, 7), (4, 7), (6, 7), (32, 70), (37, 64)])
def test_mutated_consistency_proof_fails(tree, m, n):
    proof, old, new = tree.consistency_proof(m, n), tree.root(m), tree.root(n)
    for pos in range(len(proof)):
        mutated = proof[:pos] + [_flip_bit(proof[pos])] + proof[pos + 1 :]
        assert not verify_consistency(m, n, old, new, mutated)
    assert not verify_consistency(m, n, old, new, proof[:-1])
    assert not verify_consistency(m, n, old, new, proof + [LEAVES[0]])
    assert not verify_consistency(m, n, _flip_bit(old), new, proof)
    assert not verify_consistency(m, n, old, _flip_bit(new), proof)


def test_invalid_requests_raise(tree):
    with pytest.raises(ValueError):
        tree.root(MAX_SIZE + 1)
    with pytest.raises(ValueError):
        tree.inclusion_proof(10, 10)
    with pytest.raises(ValueError):
        tree.inclusion_proof(-1, 10)
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 10)
    with pytest.raises(ValueError):
        tree.consistency_proof(11, 10)
    with pytest.raises(ValueError):
        MerkleTree().append(b"too short")
    with pytest.raises(ValueError):
        MerkleTree().extend([LEAVES[0], "not bytes"])


def test_consistency_proof_between_equal_sizes_is_empty(tree):
    assert tree.consistency_proof(9, 9) == []
    assert verify_consistency(9, 9, tree.root(9), tree.root(9), [])
