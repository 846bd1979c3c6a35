"""Packed storage of every credential the read model knows: no Python object
per credential.

A national registry holds hundreds of millions of credentials, so each is a
row across flat columns: the 16-byte UUID of its id, its document digest and
learner hash (32 bytes each), its 16-byte salt, one 4-byte reference to its
(issuer, key, achievement) profile, three 4-byte times, a status byte and
a 4-byte reference to its cached verdict fragments. Ids are found through an
open-addressing hash table (linear probing, at most 3/4 full) of row numbers
over those UUIDs, built with numpy in one vectorised pass when a snapshot is
loaded. The rare row that does not fit the packed form (an id that is no
lower-case `urn:uuid:`, an unusual learner hash, a salt that is not 8 or 16
bytes of lower-case hex, a time outside
1970-2106, a stack's components) keeps that one value in a small dict.

`CredentialRecord` is a view of one row, made on access, with the attribute
names the verdict code reads.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np

from shared.credential_format import IDENTITY_HASH_PREFIX

NEVER = 2**62  # valid_until of a credential that never expires, as verdicts see it
_NEVER32 = 0xFFFF_FFFF  # ... as stored: `now` is below it until 2106
_URN = "urn:uuid:"
_MASK = (1 << 64) - 1
_C1, _C2 = 0x9E37_79B9_7F4A_7C15, 0xBF58_476D_1CE4_E5B9
_MIN_BITS = 10
_EMPTY = -1
_STATUS_BITS = 0x03  # the status; the other bits flag values kept in the side dicts
_OTHER_ID, _OTHER_LEARNER, _OTHER_SALT, _OTHER_TIMES = 0x04, 0x08, 0x10, 0x20
_SHORT_SALT = 0x40  # the salt is 8 bytes (16 hex digits), in the first half of its 16
# Where the characters of a canonical "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" are.
_ID_LENGTH = 45
_ID_FIXED = np.frombuffer(b"urn:uuid:", dtype=np.uint8)
_DASH_AT = np.array([17, 22, 27, 32])
_DASH = ord("-")
_HEX_AT = np.array([i for i in range(9, _ID_LENGTH) if i not in (17, 22, 27, 32)])


def uuid_key(credential_id: str) -> bytes | None:
    """The 16 bytes of a canonical (lower-case) `urn:uuid:` id, else None."""
    if len(credential_id) != 45 or not credential_id.startswith(_URN):
        return None
    c = credential_id
    if c[17] != "-" or c[22] != "-" or c[27] != "-" or c[32] != "-":
        return None
    digits = c[9:17] + c[18:22] + c[23:27] + c[28:32] + c[33:]
    if digits.lower() != digits:
        return None
    try:
        return bytes.fromhex(digits)
    except ValueError:
        return None


def uuid_id(key: bytes) -> str:
    h = key.hex()
    return f"{_URN}{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _slot(key: bytes, shift: int) -> int:
    a, b = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    return ((((a * _C1) & _MASK) ^ b) * _C2 & _MASK) >> shift


def build_index(ids: bytes | bytearray, rows: np.ndarray, bits: int) -> np.ndarray:
    """The hash table of the 16-byte keys of `rows`, built in vectorised
    rounds: each round places, per free slot, one of the keys probing it;
    the rest move on. Keys never move once placed, so each is found by
    probing from its home slot."""
    table = np.full(1 << bits, _EMPTY, dtype=np.int32)
    if not rows.size:
        return table
    keys = np.frombuffer(ids, dtype="<u8", count=2 * (int(rows.max()) + 1)).reshape(-1, 2)[rows]
    with np.errstate(over="ignore"):
        slots = (((keys[:, 0] * np.uint64(_C1)) ^ keys[:, 1]) * np.uint64(_C2)) >> np.uint64(64 - bits)
    slots = slots.astype(np.int64)
    pending = rows.astype(np.int64)
    mask = (1 << bits) - 1
    while pending.size:
        free = table[slots] == _EMPTY
        _, first = np.unique(slots[free], return_index=True)
        winners = np.flatnonzero(free)[first]
        table[slots[winners]] = pending[winners]
        keep = np.ones(pending.size, dtype=bool)
        keep[winners] = False
        pending, slots = pending[keep], (slots[keep] + 1) & mask
    return table


class CredentialTable:
    """The packed rows, looked up by credential id."""

    def __init__(self) -> None:
        self.count = 0
        self.ids = bytearray()        # 16 bytes a row (zeros for an id kept in other_ids)
        self.digests = bytearray()    # 64 a row: document SHA-256, then the learner hash's digest
        self.salts = bytearray()      # 16 a row
        self.profiles = array("I")    # index into profile_values
        self.issued_at = array("I")
        self.valid_from = array("I")
        self.valid_until = array("I")  # _NEVER32: never expires
        self.status = bytearray()     # status | flags
        self.parts = array("i")       # index into parts_pool; -1: not built
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
        self._bits = _MIN_BITS
        self._index = build_index(b"", np.arange(0), self._bits)
        self._slots = memoryview(self._index)

    # -- lookups -----------------------------------------------------------

    def row(self, credential_id: str) -> int:
        """The row of `credential_id`, or -1."""
        key = uuid_key(credential_id)
        if key is None:
            return self.other_ids.get(credential_id, -1)
        slots, ids, mask = self._slots, self.ids, (1 << self._bits) - 1
        slot = _slot(key, 64 - self._bits)
        while (found := slots[slot]) != _EMPTY:
            if ids[16 * found:16 * found + 16] == key:
                return found
            slot = (slot + 1) & mask
        return -1

    def rows(self, credential_ids: list[str]) -> list[int]:
        """The rows of many ids at once (-1 where absent): the UUIDs are parsed,
        hashed and probed for in vectorised steps, a few cycles per id."""
        count = len(credential_ids)
        blob = "".join(credential_ids)
        if count == 0 or not blob.isascii():
            return [self.row(cid) for cid in credential_ids]
        if len(blob) != _ID_LENGTH * count:
            # Some ids are of another form: look those up one by one.
            uuids = [n for n, cid in enumerate(credential_ids) if len(cid) == _ID_LENGTH]
            result = [self.other_ids.get(cid, -1) for cid in credential_ids]
            for n, found in zip(uuids, self.rows([credential_ids[n] for n in uuids]) if uuids else (), strict=True):
                result[n] = found
            return result
        chars = np.frombuffer(blob.encode("ascii"), dtype=np.uint8).reshape(count, _ID_LENGTH)
        digits = chars[:, _HEX_AT]
        canonical = (chars[:, :_ID_FIXED.size] == _ID_FIXED).all(axis=1) & (chars[:, _DASH_AT] == _DASH).all(axis=1)
        canonical &= (((digits >= 48) & (digits <= 57)) | ((digits >= 97) & (digits <= 102))).all(axis=1)
        nibbles = np.where(digits <= 57, digits - 48, digits - 87).astype(np.uint8)
        keys = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).view("<u8")
        bits = self._bits
        with np.errstate(over="ignore"):
            slots = ((((keys[:, 0] * np.uint64(_C1)) ^ keys[:, 1]) * np.uint64(_C2)) >> np.uint64(64 - bits))
        slots = slots.astype(np.int64)
        found = np.full(count, _EMPTY, dtype=np.int64)
        stored = np.frombuffer(self.ids, dtype="<u8", count=2 * self.count).reshape(-1, 2) if self.count else None
        active = np.flatnonzero(canonical)
        mask = (1 << bits) - 1
        while active.size and stored is not None:
            candidates = self._index[slots[active]]
            occupied = candidates != _EMPTY
            active, candidates = active[occupied], candidates[occupied]
            hit = (stored[candidates] == keys[active]).all(axis=1)
            found[active[hit]] = candidates[hit]
            active = active[~hit]
            slots[active] = (slots[active] + 1) & mask
        del stored  # release the export of self.ids before it can grow again
        result = found.tolist()
        for n in np.flatnonzero(~canonical).tolist():
            result[n] = self.other_ids.get(credential_ids[n], -1)
        return result

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
        if self.status[row] & _OTHER_ID:
            return self.other_id_of[row]
        return uuid_id(bytes(self.ids[16 * row:16 * row + 16]))

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
        flags = 0
        if key is None:
            flags |= _OTHER_ID
            self.other_ids[credential_id] = row
            self.other_id_of[row] = credential_id
            key = bytes(16)
        self.ids += key
        self.digests += bytes(64)
        self.salts += bytes(16)
        for column in (self.profiles, self.issued_at, self.valid_from, self.valid_until):
            column.append(0)
        self.status.append(flags)
        self.parts.append(-1)
        self.count += 1
        self._set_facts(row, document_hash, learner_hash, salt, profile, issued_at, valid_from, valid_until,
                        components)
        if not flags & _OTHER_ID:
            self._index_row(row, key)
        return row

    def _set_facts(self, row: int, document_hash: bytes, learner_hash: str, salt: str,
                   profile: tuple[str, str, str], issued_at: int, valid_from: int, valid_until: int,
                   components: tuple[str, ...]) -> None:
        flags = self.status[row] & (_OTHER_ID | _STATUS_BITS)  # the salt, learner and time flags are set anew
        for side in (self.other_learner, self.other_salt, self.other_times, self.components):
            side.pop(row, None)
        learner = _packed_learner(learner_hash)
        if learner is None:
            flags |= _OTHER_LEARNER
            self.other_learner[row] = learner_hash
            learner = bytes(32)
        self.digests[64 * row:64 * row + 64] = document_hash + learner
        packed_salt = _packed_salt(salt)
        if packed_salt is None:
            flags |= _OTHER_SALT
            self.other_salt[row] = salt
            packed_salt = bytes(16)
        elif len(packed_salt) == 8:
            flags |= _SHORT_SALT
            packed_salt += bytes(8)
        self.salts[16 * row:16 * row + 16] = packed_salt
        self.profiles[row] = self._profile(profile)
        times = (issued_at, valid_from, valid_until)
        if not all(0 <= t < _NEVER32 for t in times[:2]) or not (valid_until >= NEVER or 0 <= valid_until < _NEVER32):
            flags |= _OTHER_TIMES
            self.other_times[row] = times
        # Clamped, the columns give every window test the answer the exact
        # times give, for any `now` before 2106; issued_at is read exactly.
        self.issued_at[row], self.valid_from[row] = (min(max(t, 0), _NEVER32 - 1) for t in times[:2])
        self.valid_until[row] = _NEVER32 if valid_until >= NEVER else min(max(valid_until, 0), _NEVER32 - 1)
        self.status[row] = flags
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
        return found

    def _index_row(self, row: int, key: bytes) -> None:
        if 4 * (self.count + 1) > 3 << self._bits:
            self.reindex(self._bits + 1)
            return
        slots, mask = self._slots, (1 << self._bits) - 1
        slot = _slot(key, 64 - self._bits)
        while slots[slot] != _EMPTY:
            slot = (slot + 1) & mask
        slots[slot] = row

    def reindex(self, bits: int | None = None) -> None:
        """Rebuild the hash table (after a bulk load, or to grow it)."""
        if bits is None:
            bits = _MIN_BITS
            while 4 * (self.count + 1) > 3 << bits:
                bits += 1
        self._slots.release()
        flags = np.frombuffer(bytes(self.status), dtype=np.uint8)
        table = build_index(self.ids, np.flatnonzero(flags & _OTHER_ID == 0), bits)
        self._bits, self._index = bits, table
        self._slots = memoryview(table)

    def set_status(self, row: int, status: int) -> None:
        self.status[row] = (self.status[row] & ~_STATUS_BITS) | status

    def set_parts(self, row: int, parts: Any) -> None:
        index = self._pool_index.get(id(parts))
        if index is None:
            index = self._pool_index[id(parts)] = len(self.parts_pool)
            self.parts_pool.append(parts)
        self.parts[row] = index

    def clear_parts(self) -> None:
        """Forget every cached verdict (the registry changed)."""
        self.parts_pool.clear()
        self._pool_index.clear()
        if self.count:
            view = np.frombuffer(self.parts, dtype=np.int32)
            view[:] = -1
            del view

    # -- reading a row -----------------------------------------------------

    def learner_hash(self, row: int) -> str:
        if self.status[row] & _OTHER_LEARNER:
            return self.other_learner[row]
        return IDENTITY_HASH_PREFIX + self.digests[64 * row + 32:64 * row + 64].hex()

    def salt(self, row: int) -> str:
        flags = self.status[row]
        if flags & _OTHER_SALT:
            return self.other_salt[row]
        return self.salts[16 * row:16 * row + (8 if flags & _SHORT_SALT else 16)].hex()

    def times(self, row: int) -> tuple[int, int, int]:
        if self.status[row] & _OTHER_TIMES:
            return self.other_times[row]
        until = self.valid_until[row]
        return self.issued_at[row], self.valid_from[row], NEVER if until == _NEVER32 else until


def _packed_learner(learner_hash: str) -> bytes | None:
    hex_part = learner_hash[len(IDENTITY_HASH_PREFIX):]
    if not learner_hash.startswith(IDENTITY_HASH_PREFIX) or len(hex_part) != 64 or hex_part.lower() != hex_part:
        return None
    try:
        return bytes.fromhex(hex_part)
    except ValueError:
        return None


def _packed_salt(salt: str) -> bytes | None:
    """16 bytes (what issuance draws) or 8 (a shorter salt some issuers use), from lower-case hex."""
    if len(salt) not in (16, 32) or salt.lower() != salt:
        return None
    try:
        return bytes.fromhex(salt)
    except ValueError:
        return None


class CredentialRecord:
    """One row of the table, read through the attribute names verdicts use."""

    __slots__ = ("_table", "row")

    def __init__(self, table: CredentialTable, row: int) -> None:
        self._table = table
        self.row = row

    @property
    def document_hash(self) -> bytes:
        return bytes(self._table.digests[64 * self.row:64 * self.row + 32])

    @property
    def learner_hash(self) -> str:
        return self._table.learner_hash(self.row)

    @property
    def salt(self) -> str:
        return self._table.salt(self.row)

    @property
    def issuer_id(self) -> str:
        return self._table.profile_values[self._table.profiles[self.row]][0]

    @property
    def key_id(self) -> str:
        return self._table.profile_values[self._table.profiles[self.row]][1]

    @property
    def achievement_id(self) -> str:
        return self._table.profile_values[self._table.profiles[self.row]][2]

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
        return self._table.status[self.row] & _STATUS_BITS

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
