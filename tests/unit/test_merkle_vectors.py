"""RFC 9162 Merkle verification against transparency-dev/merkle vectors and the reference tree."""

import base64
import json
from hashlib import sha256
from pathlib import Path

import pytest

from shared.ledger.transparency.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"
TESTDATA = VECTORS / "transparency-dev-testdata"


def _load_all(kind: str) -> list[tuple[str, dict]]:
    files = sorted((TESTDATA / kind).rglob("*.json"))
    return [(str(f.relative_to(TESTDATA)), json.loads(f.read_text())) for f in files]


INCLUSION = _load_all("inclusion")
CONSISTENCY = _load_all("consistency")
REFERENCE = json.loads((VECTORS / "reference-tree.json").read_text())
REFERENCE_LEAVES = [bytes.fromhex(h) for h in REFERENCE["leafInputsHex"]]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(vector: dict) -> list[bytes]:
    return [_b64(p) for p in vector["proof"] or []]  # null means an empty proof


def test_all_transparency_dev_vectors_are_present():
    # A silently missing directory would otherwise shrink the parametrized runs below.
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98


@pytest.mark.parametrize("vector", [v for _, v in INCLUSION], ids=[n for n, _ in INCLUSION])
def test_inclusion_vector_fails_iff_want_err(vector):
    ok = verify_inclusion(
        vector["leafIdx"],
        vector["treeSize"],
        _b64(vector["leafHash"]),
        _proof(vector),
        _b64(vector["root"]),
    )
    assert ok is not vector["wantErr"], vector["desc"]


@pytest.mark.parametrize("vector", [v for _, v in CONSISTENCY], ids=[n for n, _ in CONSISTENCY])
def test_consistency_vector_fails_iff_want_err(vector):
    ok = verify_consistency(
        vector["size1"],
        vector["size2"],
        _b64(vector["root1"]),
        _b64(vector["root2"]),
        _proof(vector),
    )
    assert ok is not vector["wantErr"], vector["desc"]


@pytest.mark.parametrize("size", range(len(REFERENCE["rootHashByTreeSizeHex"])))
def test_reference_tree_root_for_every_size(size):
    tree = MerkleTree(leaf_hash(entry) for entry in REFERENCE_LEAVES)
    assert tree.root(size).hex() == REFERENCE["rootHashByTreeSizeHex"][size]


def test_reference_tree_node_hashes_by_level():
    leaves = [leaf_hash(entry) for entry in REFERENCE_LEAVES]
    for level, hashes in enumerate(REFERENCE["nodeHashesByLevelHex"]):
        width = 1 << level
        for i, expected in enumerate(hashes):
            subtree = MerkleTree(leaves[i * width : (i + 1) * width])
            assert subtree.root().hex() == expected, (level, i)


def test_hasher_vectors():
    by_desc = {v["desc"]: v for v in REFERENCE["hasherVectors"]}
    assert EMPTY_ROOT.hex() == by_desc["empty tree root"]["expectedHex"]
    assert MerkleTree().root() == EMPTY_ROOT == sha256(b"").digest()
    for desc in ("leaf hash of empty leaf (0x00 prefix only)", "leaf hash of ASCII 'L123456'"):
        vector = by_desc[desc]
        assert leaf_hash(bytes.fromhex(vector["leafHex"])).hex() == vector["expectedHex"]
    children = by_desc["HashChildren(left='N123', right='N456') (raw bytes, not hashes)"]
    left, right = bytes.fromhex(children["leftHex"]), bytes.fromhex(children["rightHex"])
    assert node_hash(left, right).hex() == children["expectedHex"]


@pytest.mark.parametrize(
    "args",
    [
        (-1, 1, b"\0" * 32, [], b"\0" * 32),  # negative index
        (0, 1, "not bytes", [], b"\0" * 32),
        (0, 2, b"\0" * 32, b"\0" * 32, b"\0" * 32),  # proof is bytes, not a list
        (0, 2, b"\0" * 32, [None], b"\0" * 32),
        (True, 2, b"\0" * 32, [b"\0" * 32], b"\0" * 32),  # bool is not an index
    ],
)
def test_verify_inclusion_rejects_malformed_input_without_raising(args):
    assert verify_inclusion(*args) is False


@pytest.mark.parametrize(
    "args",
    [
        (-1, 2, b"", b"", [b"\0" * 32]),
        (1, 2, None, b"", [b"\0" * 32]),
        (1, 2, b"", b"", "proof"),
        (1, 2, b"", b"", [b"short"]),
        (1.0, 2, b"", b"", [b"\0" * 32]),
    ],
)
def test_verify_consistency_rejects_malformed_input_without_raising(args):
    assert verify_consistency(*args) is False
