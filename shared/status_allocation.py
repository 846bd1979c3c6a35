"""Allocating Bitstring Status List entries to new credentials.

Issuance (any number of processes) asks for entries; the revocation service
publishes the lists. Each list has a counter of entries handed out and a
secret permutation key. Entry k of a list sits at index permute(key, k):
a keyed Feistel permutation, so

- indexes are unique per list by construction (a permutation is a
  bijection), with no lookup of used indexes and no retry loop;
- concurrent allocators only contend on one atomic counter UPDATE;
- an index says nothing about when, or after whom, a credential was issued
  (the spec's herd-privacy advice against sequential assignment).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass

import asyncpg

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
    for round_number in range(_ROUNDS):
        # Keyed BLAKE2b is a PRF like HMAC-SHA256, at a third of the cost:
        # this runs twice per credential issued.
        digest = hashlib.blake2b(bytes((round_number, right >> 8, right & 0xFF)), key=key, digest_size=2).digest()
        left, right = right, left ^ (int.from_bytes(digest, "big") & _HALF_MASK)
    return (left << _HALF_BITS) | right


@dataclass(frozen=True)
class _Grant:
    list_id: str
    key: bytes
    size: int
    first: int
    count: int


# `first` and `granted` are computed in the locking SELECT on purpose: under
# READ COMMITTED, a row locked after waiting for a concurrent allocator is
# re-read at its newest version there, whereas any other read of the table in
# this statement sees the statement's older snapshot (and would hand out the
# same entries twice).
_CLAIM_FROM = """
WITH target AS (
    SELECT list_id, allocated AS first, least($2, size - allocated) AS granted
      FROM revocation.status_lists
     WHERE issuer_id = $1 AND purpose = $3 AND allocated < size
     ORDER BY created_at, list_id
     LIMIT 1
       FOR UPDATE
)
UPDATE revocation.status_lists s
   SET allocated = target.first + target.granted
  FROM target
 WHERE s.list_id = target.list_id
RETURNING s.list_id, s.permutation_key, s.size, target.first, target.granted
"""

# A new list is marked changed, so the revocation service publishes it, all
# zeros, before anyone asks for it.
_NEW_LIST = """
WITH created AS (
    INSERT INTO revocation.status_lists (list_id, issuer_id, purpose, size, permutation_key)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING list_id
)
INSERT INTO revocation.list_changes (list_id) SELECT list_id FROM created
"""


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
    row = await conn.fetchrow(_CLAIM_FROM, issuer_id, wanted, purpose)
    while row is None:
        # No open list: open one. A concurrent allocator may open one too;
        # both are valid lists, one just fills later.
        list_id = f"{issuer_id}.{purpose}.{uuid.uuid4().hex[:12]}"
        await conn.execute(_NEW_LIST, list_id, issuer_id, purpose, LIST_SIZE, os.urandom(32))
        row = await conn.fetchrow(_CLAIM_FROM, issuer_id, wanted, purpose)
    return _Grant(row["list_id"], bytes(row["permutation_key"]), row["size"], row["first"], row["granted"])
