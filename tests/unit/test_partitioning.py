"""The relay's partitioner picks what aiokafka's default partitioner picks."""

from __future__ import annotations

import os

from aiokafka.partitioner import DefaultPartitioner, murmur2

from shared.ledger.delivery import partitioning


def test_murmur2_matches_aiokafka_for_every_tail_length():
    keys = [b"", b"a", b"ab", b"abc", b"credential:urn:uuid:00000000-0000-4000-8000-000000000001"]
    keys += [os.urandom(n) for n in range(80) for _ in range(5)]
    for key in keys:
        assert partitioning.murmur2(key) == murmur2(key), key


def test_partition_matches_the_default_partitioner():
    for partitions in ([0], [0, 1, 2, 3], list(range(7))):
        for n in range(500):
            key = f"credential:urn:uuid:{n:036d}".encode()
            assert partitioning.partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_batch_of_keys_gets_the_default_partitioners_choice_for_each():
    # Keys of one length in numbers above and below the vectorised threshold,
    # every tail length, and lengths mixed in one batch, in their order.
    keys = [f"credential:urn:uuid:{os.urandom(16).hex()}".encode() for _ in range(300)]
    keys += [os.urandom(n) for n in range(40) for _ in range(20)]
    keys += [b"", b"a", b"abcd", b"stream-1"]
    keys = [keys[i] for i in sorted(range(len(keys)), key=lambda i: hash((i * 7919) % 1009))]
    for partitions in ([0], [0, 1, 2, 3], list(range(7))):
        expected = [DefaultPartitioner()(key, partitions, partitions) for key in keys]
        assert partitioning.partitions_of(keys, partitions) == expected
    assert partitioning.partitions_of([], [0, 1]) == []
