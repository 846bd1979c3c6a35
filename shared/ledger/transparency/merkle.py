"""RFC 9162 §2.1 Merkle hash trees: hashing, proof verification and an append-only tree.

Hashes are SHA-256 with the RFC 6962 domain separation prefixes, so these trees and
proofs are interchangeable with Certificate Transparency and C2SP tlog tooling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """Hash of a log entry; the 0x00 prefix keeps leaves distinct from interior nodes."""
    return sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node from its two children."""
    return sha256(_NODE_PREFIX + left + right).digest()


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` place `leaf_hash` at `leaf_index` under `root`?

    Malformed input of any kind yields False rather than an exception, because the
    arguments usually come straight from an untrusted peer.
    """
    if not (_is_size(leaf_index) and _is_size(tree_size)) or leaf_index >= tree_size:
        return False
    # A leaf hash of the wrong length can never be a real leaf; checking it also stops
    # an empty leaf "verifying" against an empty root in a one-leaf tree.
    if not (_is_hash(leaf_hash) and _is_proof(proof) and isinstance(root, bytes)):
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _skip_right_edge(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (size2, root2) an append-only extension of (size1, root1)?

    Edge rules follow transparency-dev/merkle: size1 must be positive (a consistency
    proof from the empty tree proves nothing) and equal sizes need an empty proof and
    equal roots. Malformed input yields False.
    """
    if not (_is_size(size1) and _is_size(size2) and _is_proof(proof)):
        return False
    if not (isinstance(root1, bytes) and isinstance(root2, bytes)):
        return False
    if size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        return len(proof) == 0 and root1 == root2
    if len(proof) == 0:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a perfect subtree of the new one, so its root is the
        # starting node and the proof omits it.
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _skip_right_edge(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root1 and sr == root2


def _skip_right_edge(fn: int, sn: int) -> tuple[int, int]:
    """Climb levels where the node is a lone right-edge child, which has no sibling."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_proof(proof: object) -> bool:
    # bytes and str are sequences too, but never a list of hashes.
    if not isinstance(proof, Sequence) or isinstance(proof, (bytes, bytearray, str)):
        return False
    return all(_is_hash(p) for p in proof)


class MerkleTree:
    """Append-only Merkle tree that answers roots and proofs for every earlier size.

    `_levels[k][i]` is the hash of the perfect subtree over leaves [i * 2**k, (i+1) * 2**k),
    appended as soon as its last leaf arrives. Every range that RFC 9162 recursion asks
    about starts on a boundary of its largest perfect subtree, so its hash is a fold of
    at most log2(n) stored nodes; only ranges on the right edge of a tree need hashing.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    def __len__(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index` (0-based)."""
        return self._levels[0][index]

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf hash (see `leaf_hash`) and return its index."""
        if not _is_hash(leaf_hash):
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes")
        leaf_index = len(self)
        self._levels[0].append(leaf_hash)
        node, level, index = leaf_hash, 0, leaf_index
        # Each trailing 1 bit of the index is a left sibling this node now completes.
        while index & 1:
            node = node_hash(self._levels[level][index - 1], node)
            level, index = level + 1, index >> 1
            self._level(level).append(node)
        return leaf_index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add many leaf hashes, completing each parent level in one batch."""
        batch = list(leaf_hashes)
        if not all(_is_hash(h) for h in batch):
            raise ValueError(f"leaf hashes must be {HASH_SIZE}-byte bytes objects")
        self._levels[0].extend(batch)
        level = 0
        while len(self._levels[level]) >= 2:
            lower, upper = self._levels[level], self._level(level + 1)
            upper.extend(
                node_hash(lower[i], lower[i + 1])
                for i in range(2 * len(upper), len(lower) - 1, 2)
            )
            level += 1

    def _level(self, level: int) -> list[bytes]:
        if level == len(self._levels):
            self._levels.append([])
        return self._levels[level]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (default: all of them)."""
        size = len(self) if size is None else size
        self._check_size(size)
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]), ordered from the leaf's sibling upwards."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            mid = start + _largest_power_of_two_below(end - start)
            if index < mid:
                path.append(self._range_hash(mid, end))
                end = mid
            else:
                path.append(self._range_hash(start, mid))
                start = mid
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[0:size]); empty when the sizes are equal."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 < old_size <= size:
            raise ValueError(f"old size {old_size} must be in 1..{size}")
        path: list[bytes] = []
        start, end = 0, size
        old_root_is_known = True  # SUBPROOF's `b`: is D[0:old_size] a node on our path?
        while end != old_size:
            mid = start + _largest_power_of_two_below(end - start)
            if old_size <= mid:
                path.append(self._range_hash(mid, end))
                end = mid
            else:
                path.append(self._range_hash(start, mid))
                start = mid
                old_root_is_known = False
        if not old_root_is_known:
            path.append(self._range_hash(start, end))
        path.reverse()
        return path

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range starting on a boundary of its largest subtree.

        Such a range splits into perfect subtrees whose sizes are the binary digits of
        `end - start`, largest first, and MTH nests them to the right.
        """
        parts: list[bytes] = []
        while start < end:
            level = (end - start).bit_length() - 1
            parts.append(self._levels[level][start >> level])
            start += 1 << level
        result = parts.pop()
        while parts:
            result = node_hash(parts.pop(), result)
        return result

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ValueError(f"size {size} is outside 0..{len(self)}")


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)
