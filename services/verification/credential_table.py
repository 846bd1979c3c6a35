"""Packed storage of every credential the read model knows: no Python object
per credential, about 99 bytes each.

A national registry holds hundreds of millions of credentials, so each is a
row across flat columns (bytes per row):

- ids (16): the UUID of its `urn:uuid:` id;
- digests (48): the document's SHA-256 (32), then the first 16 bytes of the
  learner hash's SHA-256 (see "The learner hash" below);
- salts (16): the identity salt; an 8-byte salt is kept in the first half,
  the second zero (a 16-byte salt that ends in 8 zero bytes is a side value);
- kinds (2, or 4 past 16,384 profiles): the interned (issuer, key,
  achievement) profile number, shifted left by 2, ORed with the status;
- issued_delta (2): issued_at in seconds from its block's issued_base (one
  8-byte base per 256 rows): rows are appended in ledger order and issued_at
  is the server's clock at issue, so rows appended together lie within the
  +-9 hours a delta holds;
- valid_from, valid_until (4 + 4): clamped seconds, read by the by-id fast
  path (batch.py) exactly as before;
- parts (2): a reference to the row's cached verdict fragments (see
  `set_parts`: at most 32,767 distinct ones at a time, which also bounds
  their memory);

plus the id hash table (id_index.py, 5.0-5.7 bytes). The rare row that does
not fit the packed form (an id that is no lower-case `urn:uuid:` or is the
nil UUID, an unusual learner hash, a salt that is not 8 or 16 bytes of
lower-case hex, a time outside 1970-2106 or outside its block's window, a
stack's components) keeps that value in a small dict keyed by row, which the
readers consult first.

The learner hash: a verdict only ever compares it with the hash of an
identity someone presents, salted with the credential's own salt (16 random
bytes drawn at issuance). Keeping 128 of its 256 bits keeps that match at
the 128-bit level: to be taken for the learner, an attacker must find an
identity whose salted SHA-256 starts with the stored 16 bytes, a second
preimage costing about 2^128 hash evaluations per credential (a collision
search does not help: the target and its salt are fixed before the
attacker's search begins, and the salt makes each credential a separate
target). A chance match of a wrong identity has probability 2^-128. The full
hash stays in the signed document; only this read model keeps the prefix,
and `learner_matches` is the one place that compares it.

`CredentialRecord` is a view of one row, made on access, with the attribute
names the verdict code reads.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np

from services.verification.credential_ids import ID_LENGTH, canonical_keys, uuid_id, uuid_key
from services.verification.id_index import GROW_AT, GROW_TO, LOAD_FILL, IdIndex, key_halves, slots_for
from shared.credential_format import IDENTITY_HASH_PREFIX

NEVER = 2**62  # valid_until of a credential that never expires, as verdicts see it
_NEVER32 = 0xFFFF_FFFF  # ... as stored: `now` is below it until 2106
_NIL = bytes(16)
STATUS_BITS = 0x03
PROFILE_SHIFT = 2
NARROW_PROFILES = 1 << (16 - PROFILE_SHIFT)  # profiles a 2-byte kind holds
LEARNER_BYTES = 16
ROW_DIGESTS = 32 + LEARNER_BYTES
# The learner hash of a packed row, as `learner_hash` gives it: its first
# 128 bits in hex, then this mark (so no one mistakes it for a whole hash).
TRUNCATED = "..."
BLOCK_SHIFT = 8  # 256 rows per issued_at base
DELTA_LIMIT = 32767
DELTA_OTHER = -32768  # the row's exact times are in other_times
MAX_PARTS = 32767
def learner_matches(computed: str, stored: str) -> bool:
    """Does an identity's hash (`identity_hash`) match a row's `learner_hash`?"""
    if stored.endswith(TRUNCATED) and stored.startswith(IDENTITY_HASH_PREFIX):
        prefix = stored[:-len(TRUNCATED)]
        return len(computed) == len(IDENTITY_HASH_PREFIX) + 64 and computed.startswith(prefix)
    return computed == stored


class CredentialTable:
    """The packed rows, looked up by credential id."""

    def __init__(self) -> None:
        self.count = 0
        self.ids = bytearray()        # 16 bytes a row (zeros for an id kept in other_ids)
        self.digests = bytearray()    # ROW_DIGESTS a row
        self.salts = bytearray()      # 16 a row
        self.kinds = array("H")       # profile << PROFILE_SHIFT | status
        self.issued_base = array("q")  # one per 1 << BLOCK_SHIFT rows
        self.issued_delta = array("h")
        self.valid_from = array("I")
        self.valid_until = array("I")  # _NEVER32: never expires
        self.parts = array("h")       # index into parts_pool; -1: not built
        self.parts_pool: list[Any] = []
        self._pool_index: dict[int, int] = {}
        self.profile_values: list[tuple[str, str, str]] = []  # (issuer, key, achievement)
        self._profile_of: dict[tuple[str, str, str], int] = {}
        self.other_ids: dict[str, int] = {}
        self.other_id_of: dict[int, str] = {}
        self.other_learner: dict[int, str] = {}
        self.other_salt: dict[int, str] = {}
        self.other_times: dict[int, tuple[int, int, int]] = {}
        self.components: dict[int, tuple[str, ...]] = {}
        self._index = IdIndex(b"", np.arange(0), slots_for(0, LOAD_FILL))

    # -- lookups -----------------------------------------------------------

    def row(self, credential_id: str) -> int:
        """The row of `credential_id`, or -1."""
        key = uuid_key(credential_id)
        if key is None or key == _NIL:
            return self.other_ids.get(credential_id, -1)
        return self._index.find(key, self.ids)

    def rows(self, credential_ids: list[str]) -> list[int]:
        return self.find_rows(credential_ids)[0].tolist()

    def find_rows(self, credential_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The rows of many ids at once (-1 where absent), and which ids are
        canonical `urn:uuid:` UUIDs (as `uuid_key` reads them, not the nil
        one): the UUIDs are parsed, hashed and probed for in vectorised steps,
        a few cycles per id."""
        count = len(credential_ids)
        blob = "".join(credential_ids)
        if count == 0 or not blob.isascii():
            return np.array([self.row(cid) for cid in credential_ids], dtype=np.int64), np.zeros(count, dtype=bool)
        if len(blob) != ID_LENGTH * count:
            # Some ids are of another form: look those up one by one.
            uuids = [n for n, cid in enumerate(credential_ids) if len(cid) == ID_LENGTH]
            result = np.array([self.other_ids.get(cid, -1) for cid in credential_ids], dtype=np.int64)
            canonical = np.zeros(count, dtype=bool)
            if uuids:
                result[uuids], canonical[uuids] = self.find_rows([credential_ids[n] for n in uuids])
            return result, canonical
        keys, canonical = canonical_keys(blob.encode("ascii"), count)
        found = np.full(count, -1, dtype=np.int64)
        active = np.flatnonzero(canonical)
        found[active] = self.find_keys(keys[active])
        for n in np.flatnonzero(~canonical).tolist():
            found[n] = self.other_ids.get(credential_ids[n], -1)
        return found, canonical

    def find_keys(self, keys: np.ndarray) -> np.ndarray:
        """The rows (-1 where absent) of the keys of canonical ids, as `canonical_keys` gives them."""
        if not self.count:
            return np.full(len(keys), -1, dtype=np.int64)
        # The id column's view is a temporary: its export of self.ids ends before the column can grow.
        return self._index.find_many(keys, key_halves(self.ids, self.count))

    def get(self, credential_id: str, default: None = None) -> CredentialRecord | None:
        found = self.row(credential_id)
        return CredentialRecord(self, found) if found >= 0 else default

    def __getitem__(self, credential_id: str) -> CredentialRecord:
        found = self.row(credential_id)
        if found < 0:
            raise KeyError(credential_id)
        return CredentialRecord(self, found)

    def __contains__(self, credential_id: object) -> bool:
        return isinstance(credential_id, str) and self.row(credential_id) >= 0

    def __len__(self) -> int:
        return self.count

    def id_of(self, row: int) -> str:
        other = self.other_id_of.get(row)
        return other if other is not None else uuid_id(bytes(self.ids[16 * row:16 * row + 16]))

    def items(self) -> Iterator[tuple[str, CredentialRecord]]:
        for row in range(self.count):
            yield self.id_of(row), CredentialRecord(self, row)

    # -- changes -----------------------------------------------------------

    def add(self, credential_id: str, document_hash: bytes, learner_hash: str, salt: str,
            profile: tuple[str, str, str], issued_at: int, valid_from: int, valid_until: int,
            components: tuple[str, ...] = ()) -> int:
        """Append a credential (ids are unique: a second issue of one id replaces the row's facts)."""
        row = self.row(credential_id)
        if row >= 0:
            self._set_facts(row, document_hash, learner_hash, salt, profile, issued_at, valid_from, valid_until,
                            components)
            return row
        row = self.count
        key = uuid_key(credential_id)
        if key is None or key == _NIL:
            self.other_ids[credential_id] = row
            self.other_id_of[row] = credential_id
            key = None
        self.ids += key or _NIL
        self.digests += bytes(ROW_DIGESTS)
        self.salts += _NIL
        if not row & ((1 << BLOCK_SHIFT) - 1):  # the first row of its block
            self.issued_base.append(issued_at)
        for column in (self.kinds, self.issued_delta, self.valid_from, self.valid_until):
            column.append(0)
        self.parts.append(-1)
        self.count += 1
        self._set_facts(row, document_hash, learner_hash, salt, profile, issued_at, valid_from, valid_until,
                        components)
        if key is not None:
            self._index_row(row, key)
        return row

    def _set_facts(self, row: int, document_hash: bytes, learner_hash: str, salt: str,
                   profile: tuple[str, str, str], issued_at: int, valid_from: int, valid_until: int,
                   components: tuple[str, ...]) -> None:
        for side in (self.other_learner, self.other_salt, self.other_times, self.components):
            side.pop(row, None)
        learner = _packed_learner(learner_hash)
        if learner is None:
            self.other_learner[row] = learner_hash
            learner = bytes(LEARNER_BYTES)
        self.digests[ROW_DIGESTS * row:ROW_DIGESTS * row + ROW_DIGESTS] = document_hash + learner
        packed_salt = _packed_salt(salt)
        if packed_salt is None:
            self.other_salt[row] = salt
            packed_salt = _NIL
        self.salts[16 * row:16 * row + 16] = packed_salt
        self.kinds[row] = self._profile(profile) << PROFILE_SHIFT | self.kinds[row] & STATUS_BITS
        times = (issued_at, valid_from, valid_until)
        delta = issued_at - self.issued_base[row >> BLOCK_SHIFT]
        if not all(0 <= t < _NEVER32 for t in times[:2]) or not (valid_until >= NEVER or 0 <= valid_until < _NEVER32) \
                or not -DELTA_LIMIT <= delta <= DELTA_LIMIT:
            self.other_times[row] = times
            delta = DELTA_OTHER
        self.issued_delta[row] = delta
        # Clamped, the columns give every window test the answer the exact
        # times give, for any `now` before 2106.
        self.valid_from[row] = min(max(valid_from, 0), _NEVER32 - 1)
        self.valid_until[row] = _NEVER32 if valid_until >= NEVER else min(max(valid_until, 0), _NEVER32 - 1)
        if components:
            self.components[row] = components
        self.parts[row] = -1

    def restore_profiles(self) -> None:
        """Re-intern the profiles (and their ids) after `profile_values` was loaded."""
        intern: dict[str, str] = {}
        self.profile_values = [
            tuple(intern.setdefault(v, v) for v in p) for p in self.profile_values]  # type: ignore[misc]
        self._profile_of = {p: n for n, p in enumerate(self.profile_values)}

    def _profile(self, profile: tuple[str, str, str]) -> int:
        found = self._profile_of.get(profile)
        if found is None:
            found = self._profile_of[profile] = len(self.profile_values)
            self.profile_values.append(profile)
            if found == NARROW_PROFILES and self.kinds.typecode == "H":
                self.kinds = array("I", self.kinds)  # once, for a registry of that many profiles
        return found

    def _index_row(self, row: int, key: bytes) -> None:
        if self.count > GROW_AT * self._index.size or not self._index.fits(row):
            self.reindex(GROW_TO)
        else:
            self._index.insert(row, key)

    def reindex(self, fill: float = LOAD_FILL) -> None:
        """Rebuild the hash table (after a bulk load, or to grow it)."""
        self._index.release()
        others = np.fromiter(self.other_id_of, dtype=np.int64, count=len(self.other_id_of))
        rows = np.setdiff1d(np.arange(self.count), others, assume_unique=True) if others.size \
            else np.arange(self.count)
        self._index = IdIndex(self.ids, rows, slots_for(self.count, fill))

    def set_status(self, row: int, status: int) -> None:
        self.kinds[row] = (self.kinds[row] & ~STATUS_BITS) | status

    def set_parts(self, row: int, parts: Any) -> None:
        index = self._pool_index.get(id(parts))
        if index is None:
            if len(self.parts_pool) >= MAX_PARTS:
                self.clear_parts()  # rebuilt as rows are asked for again
            index = self._pool_index[id(parts)] = len(self.parts_pool)
            self.parts_pool.append(parts)
        self.parts[row] = index

    def clear_parts(self) -> None:
        """Forget every cached verdict (the registry changed, or the pool is full)."""
        self.parts_pool.clear()
        self._pool_index.clear()
        if self.count:
            view = np.frombuffer(self.parts, dtype=np.int16)
            view[:] = -1
            del view

    # -- reading many rows -------------------------------------------------

    def parts_of(self, rows: np.ndarray) -> np.ndarray:
        """`parts` of each of `rows` (existing rows), as an int16 array."""
        return np.frombuffer(self.parts, dtype=np.int16)[rows]  # a copy: the column's export ends here

    # -- reading a row -----------------------------------------------------

    def profile(self, row: int) -> tuple[str, str, str]:
        return self.profile_values[self.kinds[row] >> PROFILE_SHIFT]

    def learner_hash(self, row: int) -> str:
        other = self.other_learner.get(row)
        if other is not None:
            return other
        start = ROW_DIGESTS * row + 32
        return IDENTITY_HASH_PREFIX + self.digests[start:start + LEARNER_BYTES].hex() + TRUNCATED

    def salt(self, row: int) -> str:
        other = self.other_salt.get(row)
        if other is not None:
            return other
        packed = self.salts[16 * row:16 * row + 16]
        return (packed[:8] if packed[8:] == _NIL[8:] else packed).hex()

    def times(self, row: int) -> tuple[int, int, int]:
        other = self.other_times.get(row)
        if other is not None:
            return other
        until = self.valid_until[row]
        issued = self.issued_base[row >> BLOCK_SHIFT] + self.issued_delta[row]
        return issued, self.valid_from[row], NEVER if until == _NEVER32 else until


def _packed_learner(learner_hash: str) -> bytes | None:
    hex_part = learner_hash[len(IDENTITY_HASH_PREFIX):]
    if not learner_hash.startswith(IDENTITY_HASH_PREFIX) or len(hex_part) != 64 or hex_part.lower() != hex_part:
        return None
    try:
        return bytes.fromhex(hex_part)[:LEARNER_BYTES]
    except ValueError:
        return None


def _packed_salt(salt: str) -> bytes | None:
    """16 bytes (what issuance draws) or 8 (a shorter salt some issuers use),
    from lower-case hex, as the 16 bytes stored."""
    if len(salt) not in (16, 32) or salt.lower() != salt:
        return None
    try:
        packed = bytes.fromhex(salt)
    except ValueError:
        return None
    if len(packed) == 16:
        return None if packed[8:] == _NIL[8:] else packed  # it would read as an 8-byte salt
    return packed + _NIL[8:]


class CredentialRecord:
    """One row of the table, read through the attribute names verdicts use."""

    __slots__ = ("_table", "row")

    def __init__(self, table: CredentialTable, row: int) -> None:
        self._table = table
        self.row = row

    @property
    def document_hash(self) -> bytes:
        return bytes(self._table.digests[ROW_DIGESTS * self.row:ROW_DIGESTS * self.row + 32])

    @property
    def learner_hash(self) -> str:
        return self._table.learner_hash(self.row)

    @property
    def salt(self) -> str:
        return self._table.salt(self.row)

    @property
    def issuer_id(self) -> str:
        return self._table.profile(self.row)[0]

    @property
    def key_id(self) -> str:
        return self._table.profile(self.row)[1]

    @property
    def achievement_id(self) -> str:
        return self._table.profile(self.row)[2]

    @property
    def issued_at(self) -> int:
        return self._table.times(self.row)[0]

    @property
    def valid_from(self) -> int:
        return self._table.times(self.row)[1]

    @property
    def valid_until(self) -> int:
        return self._table.times(self.row)[2]

    @property
    def status(self) -> int:
        return self._table.kinds[self.row] & STATUS_BITS

    @status.setter
    def status(self, value: int) -> None:
        self._table.set_status(self.row, value)

    @property
    def components(self) -> tuple[str, ...]:
        return self._table.components.get(self.row, ())

    @property
    def parts(self) -> Any:
        index = self._table.parts[self.row]
        return self._table.parts_pool[index] if index >= 0 else None
