"""The hash table that finds a credential table row by its 16-byte id.

Open addressing with linear probing over int32 slots, in a table of any
size (not a power of two): a key's home slot is the top 32 bits of its mixed
hash scaled to the size, so the table can be sized to the rows it holds
instead of to the next doubling. It is kept between 70 % and 80 % full
(about 5.0-5.7 bytes per credential) and rebuilt at 75 % after a snapshot
load: at 100 million credentials a doubling table would cost 4-8 bytes more
per credential than this one just after each growth.

The keys themselves are not stored here: the credential table's id column
is the key store. A slot holds the row number in its low `row_bits` bits
and, in the bits a table of this size leaves free, a fingerprint of the key
(10 bits at a million credentials, 4 at a hundred million), so a probe reads
the id column, a random access, about once per lookup instead of once per
occupied slot it passes.
"""

from __future__ import annotations

import math

import numpy as np

_MASK = (1 << 64) - 1
_C1, _C2 = 0x9E37_79B9_7F4A_7C15, 0xBF58_476D_1CE4_E5B9
EMPTY = -1
MIN_SLOTS = 1024
LOAD_FILL = 0.75  # after a (re)build
GROW_AT, GROW_TO = 0.8, 0.7
_FINGERPRINT_AT = 8  # the fingerprint's bits in the mixed hash (the home uses the top 32)
# Lookups of many ids read this many slots from each home at once, then the
# next as many for the keys whose probe goes on (at 75 % full, about 5 %).
_WINDOW = np.arange(8)


def slots_for(count: int, fill: float) -> int:
    return max(MIN_SLOTS, math.ceil(count / fill))


def _mixed(key: bytes) -> int:
    a, b = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    return ((((a * _C1) & _MASK) ^ b) * _C2) & _MASK


def _mixed_many(keys: np.ndarray) -> np.ndarray:
    """The mixed hashes of an (n, 2) array of little-endian uint64 key halves."""
    with np.errstate(over="ignore"):
        return ((keys[:, 0] * np.uint64(_C1)) ^ keys[:, 1]) * np.uint64(_C2)


def _full(window: np.ndarray) -> np.ndarray:
    """Which rows of an (n, 8) int32 window hold no EMPTY slot, the only
    negative value: no sign bit set, tested two slots at a time."""
    signs = window.view(np.uint64) & np.uint64(0x8000_0000_8000_0000)
    return (signs[:, 0] | signs[:, 1] | signs[:, 2] | signs[:, 3]) == 0


def key_halves(ids: bytes | bytearray, count: int) -> np.ndarray:
    return np.frombuffer(ids, dtype="<u8", count=2 * count).reshape(-1, 2)


class IdIndex:
    def __init__(self, ids: bytes | bytearray, rows: np.ndarray, size: int) -> None:
        """The table of the ids of `rows` (a numpy array of row numbers), built
        in vectorised rounds: each round places, per free slot, one of the keys
        probing it; the rest move on. Keys never move once placed, so each is
        found by probing from its home slot."""
        self.size = size
        self.row_bits = size.bit_length()  # every row this table indexes is below its size
        self._fingerprint_mask = (1 << (31 - self.row_bits)) - 1 if self.row_bits < 31 else 0
        self.slots = np.full(size, EMPTY, dtype=np.int32)
        if rows.size:
            mixed = _mixed_many(key_halves(ids, int(rows.max()) + 1)[rows])
            values = rows.astype(np.int64) | (self._fingerprints(mixed) << self.row_bits)
            self._place(values, self._homes(mixed))
            del mixed
        self._view = memoryview(self.slots)

    def _homes(self, mixed: np.ndarray) -> np.ndarray:
        return ((mixed >> np.uint64(32)) * np.uint64(self.size) >> np.uint64(32)).astype(np.int64)

    def _fingerprints(self, mixed: np.ndarray) -> np.ndarray:
        return ((mixed >> np.uint64(_FINGERPRINT_AT)) & np.uint64(self._fingerprint_mask)).astype(np.int64)

    def _place(self, pending: np.ndarray, slots: np.ndarray) -> None:
        table, size = self.slots, self.size
        while pending.size:
            free = table[slots] == EMPTY
            _, first = np.unique(slots[free], return_index=True)
            winners = np.flatnonzero(free)[first]
            table[slots[winners]] = pending[winners]
            keep = np.ones(pending.size, dtype=bool)
            keep[winners] = False
            pending, slots = pending[keep], slots[keep] + 1
            slots[slots == size] = 0

    def fits(self, row: int) -> bool:
        return row < 1 << self.row_bits

    def release(self) -> None:
        self._view.release()

    def find(self, key: bytes, ids: bytearray) -> int:
        slots, size, row_bits = self._view, self.size, self.row_bits
        mixed = _mixed(key)
        slot = (mixed >> 32) * size >> 32
        fingerprint = (mixed >> _FINGERPRINT_AT) & self._fingerprint_mask
        row_mask = (1 << row_bits) - 1
        while (value := slots[slot]) != EMPTY:
            if value >> row_bits == fingerprint:
                found = value & row_mask
                if ids[16 * found:16 * found + 16] == key:
                    return found
            slot = slot + 1 if slot + 1 < size else 0
        return EMPTY

    def insert(self, row: int, key: bytes) -> None:
        slots, size = self._view, self.size
        mixed = _mixed(key)
        slot = (mixed >> 32) * size >> 32
        while slots[slot] != EMPTY:
            slot = slot + 1 if slot + 1 < size else 0
        slots[slot] = row | ((mixed >> _FINGERPRINT_AT) & self._fingerprint_mask) << self.row_bits

    def find_many(self, keys: np.ndarray, stored: np.ndarray) -> np.ndarray:
        """The rows of an (n, 2) array of keys (EMPTY where absent); `stored`
        is the id column as key halves. Each key's first WINDOW slots are
        read at once (one or two cache lines), the id column only where a
        fingerprint matches; the keys whose window was full without a match
        read the next window, and so on, until every probe has met an empty
        slot or its key."""
        mixed = _mixed_many(keys)
        slots, fingerprints = self._homes(mixed), self._fingerprints(mixed)
        row_mask = (1 << self.row_bits) - 1
        found = np.full(len(keys), EMPTY, dtype=np.int64)
        probing = np.arange(len(keys))
        while probing.size:
            window = np.take(self.slots, slots[:, None] + _WINDOW, mode="wrap")
            # An empty slot (-1) shifts to -1, never a fingerprint. Flat
            # positions and column-wise tests: numpy's 2-D nonzero and its
            # reductions along a short axis cost several times more.
            flat = np.flatnonzero((window >> self.row_bits) == fingerprints[:, None])
            which, rows = flat // _WINDOW.size, window.ravel()[flat] & row_mask
            candidates, wanted = stored[rows], keys[probing[which]]
            same = (candidates[:, 0] == wanted[:, 0]) & (candidates[:, 1] == wanted[:, 1])
            found[probing[which[same]]] = rows[same]
            # A key is stored before the first empty slot of its probe, and
            # at most once: a window with an empty slot or the key ends it.
            going_on = _full(window)
            going_on[which[same]] = False
            probing, slots, fingerprints = probing[going_on], (slots[going_on] + _WINDOW.size) % self.size, \
                fingerprints[going_on]
        return found
