"""Which Kafka partition a ledger event goes to: the one the Java client's
and aiokafka's default partitioner pick for its key (murmur2 of the stream
id), so a stream stays on one partition whoever publishes it.

aiokafka's murmur2 reads the key a byte at a time in Python, about a fifth
of the relay's CPU under bulk issuance; this one reads it a 32-bit word at a
time, and `partitions_of` hashes a relay batch's keys of one length together,
a word of every key per numpy step (about a tenth of the relay's CPU went to
the word-at-a-time loop). tests/unit/test_partitioning.py checks all agree.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

import numpy as np

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), unsigned."""
    length = len(data)
    words = length // 4
    h = _SEED ^ length
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[words * 4 :]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """DefaultPartitioner's choice among `partitions` (sorted by id) for a keyed record."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


# Below this many keys of one length, numpy's per-call overhead costs more
# than the word loop.
_VECTOR_FROM: Final = 16


def partitions_of(keys: Sequence[bytes], partitions: Sequence[int]) -> list[int]:
    """`partition_of` of every key, in order."""
    chosen = [0] * len(keys)
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        by_length[len(key)].append(index)
    for length, indexes in by_length.items():
        same = [keys[i] for i in indexes]
        hashes = _murmur2_same_length(same, length) if len(same) >= _VECTOR_FROM else [murmur2(k) for k in same]
        for index, value in zip(indexes, hashes, strict=True):
            chosen[index] = partitions[(value & 0x7FFFFFFF) % len(partitions)]
    return chosen


def _murmur2_same_length(keys: list[bytes], length: int) -> list[int]:
    """`murmur2` of keys that are all `length` bytes long; uint32 arithmetic
    wraps modulo 2**32 as the masks of the scalar version do."""
    m = np.uint32(_M)
    table = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), length)
    words = length // 4
    h = np.full(len(keys), _SEED ^ length, dtype=np.uint32)
    if words:
        packed = np.ascontiguousarray(table[:, :words * 4]).view("<u4")
        for column in range(words):
            k = packed[:, column] * m
            k ^= k >> np.uint32(24)
            k *= m
            h *= m
            h ^= k
    if length % 4:
        tail = np.zeros(len(keys), dtype=np.uint32)
        for offset in range(length % 4):
            tail |= table[:, words * 4 + offset].astype(np.uint32) << np.uint32(8 * offset)
        h ^= tail
        h *= m
    h ^= h >> np.uint32(13)
    h *= m
    h ^= h >> np.uint32(15)
    return h.tolist()
