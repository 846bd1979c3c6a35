"""The keyed permutation behind status list entries: unique indexes by
construction, and indexes that do not reveal issuance order."""

from __future__ import annotations

import hashlib
import statistics

import pytest

from services.issuance.status_entries import LIST_SIZE, permute

KEY = bytes(range(32))


def test_permute_is_a_bijection_on_a_list_of_any_size():
    size = 65_537
    assert sorted(permute(KEY, value, size) for value in range(size)) == list(range(size))


def test_every_entry_of_a_full_list_gets_its_own_index():
    # The real list size: 131,072 entries, 131,072 distinct indexes.
    assert len({permute(KEY, value) for value in range(LIST_SIZE)}) == LIST_SIZE


def test_permutation_depends_on_the_key_and_is_stable():
    other = bytes(32)
    first = [permute(KEY, value) for value in range(200)]
    assert first == [permute(KEY, value) for value in range(200)]
    assert sum(a == b for a, b in zip(first, (permute(other, v) for v in range(200)), strict=True)) < 5


def test_indexes_do_not_follow_issuance_order():
    indexes = [permute(KEY, value) for value in range(1000)]
    assert indexes != sorted(indexes)
    # Spread over the whole list, not clustered near the start.
    assert statistics.mean(indexes) == pytest.approx(LIST_SIZE / 2, rel=0.1)
    neighbours = [abs(a - b) for a, b in zip(indexes, indexes[1:], strict=False)]
    assert statistics.median(neighbours) > LIST_SIZE / 10


@pytest.mark.parametrize(("value", "size"), [(-1, 100), (100, 100), (LIST_SIZE, LIST_SIZE), (0, 2**18 + 8)])
def test_values_outside_the_list_are_refused(value, size):
    with pytest.raises(ValueError):
        permute(KEY, value, size)


def _per_entry_feistel(key: bytes, value: int) -> int:
    """The round function hashed anew for every entry, as before the tables:
    lists already published must keep their indexes."""
    left, right = value >> 9, value & 511
    for round_number in range(4):
        digest = hashlib.blake2b(bytes((round_number, right >> 8, right & 0xFF)), key=key, digest_size=2).digest()
        left, right = right, left ^ (int.from_bytes(digest, "big") & 511)
    return (left << 9) | right


def test_the_round_tables_give_the_same_permutation_as_hashing_each_entry():
    for key in (KEY, bytes(32), hashlib.sha256(b"another list").digest()):
        for value in [*range(300), *range(LIST_SIZE - 300, LIST_SIZE)]:
            expected = _per_entry_feistel(key, value)
            while expected >= LIST_SIZE:
                expected = _per_entry_feistel(key, expected)
            assert permute(key, value) == expected
