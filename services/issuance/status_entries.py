"""Bitstring Status List entries for new credentials, from revocation's lists.

The revocation service owns and publishes the lists; issuance (any number
of processes) gets entries only through revocation's
`revocation.claim_status_entries` function (its migration 0221,
docs/ownership.md), which hands out counter ranges, and maps them to
indexes here. Each list has a counter of entries handed out and a
secret permutation key. Entry k of a list sits at index permute(key, k):
a keyed Feistel permutation, so

- indexes are unique per list by construction (a permutation is a
  bijection), with no lookup of used indexes and no retry loop;
- concurrent allocators only contend on one atomic counter UPDATE;
- an index says nothing about when, or after whom, a credential was issued
  (the spec's herd-privacy advice against sequential assignment).
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from dataclasses import dataclass

import asyncpg

from shared.db.sql import load_queries
from shared.events.credentials import StatusEntry, StatusPurpose

LIST_SIZE = 131_072  # 2**17 entries (16 KB), the spec's minimum
_HALF_BITS = 9  # Feistel over 18 bits; cycle-walk back into 17
_HALF_MASK = (1 << _HALF_BITS) - 1
_ROUNDS = 4
_DOMAIN = 1 << (2 * _HALF_BITS)


def permute(key: bytes, value: int, size: int = LIST_SIZE) -> int:
    """A keyed pseudo-random permutation of range(size), size <= 2**18."""
    if not 0 <= value < size <= _DOMAIN:
        raise ValueError(f"permute needs 0 <= value < size <= {_DOMAIN}, got value {value}, size {size}")
    while True:
        value = _feistel(key, value)
        if value < size:  # cycle-walking keeps the map a bijection on [0, size)
            return value


def _feistel(key: bytes, value: int) -> int:
    left, right = value >> _HALF_BITS, value & _HALF_MASK
    for table in _round_tables(key):
        left, right = right, left ^ table[right]
    return (left << _HALF_BITS) | right


@functools.lru_cache(maxsize=64)
def _round_tables(key: bytes) -> tuple[tuple[int, ...], ...]:
    """Each round's function of a list's key, for every half-block value.

    The round function has only 2**9 inputs, so 2,048 keyed hashes give a
    whole list's permutation; computed per entry it cost eight (cycle-walking
    about doubles four rounds) for every credential issued.
    """
    return tuple(tuple(_round_function(key, round_number, right) for right in range(1 << _HALF_BITS))
                 for round_number in range(_ROUNDS))


def _round_function(key: bytes, round_number: int, right: int) -> int:
    # Keyed BLAKE2b is a PRF like HMAC-SHA256, at a third of the cost.
    digest = hashlib.blake2b(bytes((round_number, right >> 8, right & 0xFF)), key=key, digest_size=2).digest()
    return int.from_bytes(digest, "big") & _HALF_MASK


@dataclass(frozen=True)
class _Grant:
    list_id: str
    key: bytes
    size: int
    first: int
    count: int


QUERIES = load_queries("services.issuance")


async def allocate(
    conn: asyncpg.Connection, issuer_id: str, purpose: StatusPurpose, count: int
) -> list[StatusEntry]:
    """`count` fresh entries in the issuer's open list(s) for `purpose`.

    Runs in the caller's transaction when there is one, so entries of a
    request that fails are simply never used (a gap in a list is harmless).
    """
    entries: list[StatusEntry] = []
    while len(entries) < count:
        grant = await _claim(conn, issuer_id, purpose, count - len(entries))
        entries.extend(
            StatusEntry(purpose=purpose, list_id=grant.list_id, index=permute(grant.key, k, grant.size))
            for k in range(grant.first, grant.first + grant.count)
        )
    return entries


async def _claim(conn: asyncpg.Connection, issuer_id: str, purpose: str, wanted: int) -> _Grant:
    # The list to open if the issuer has none open; a concurrent allocator
    # may open one too: both are valid lists, one just fills later.
    new_list_id = f"{issuer_id}.{purpose}.{uuid.uuid4().hex[:12]}"
    row = await conn.fetchrow(
        QUERIES["claim_status_entries"], issuer_id, purpose, wanted, new_list_id, LIST_SIZE, os.urandom(32)
    )
    if row is None:
        raise RuntimeError(f"revocation.claim_status_entries granted nothing for {issuer_id}/{purpose}")
    return _Grant(row["list_id"], bytes(row["permutation_key"]), row["size"], row["first"], row["granted"])
