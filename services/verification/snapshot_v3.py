"""Reading a format-3 snapshot (before the compact rows of format 4), so a
replica upgraded in place restarts from its last snapshot instead of
replaying the whole ledger.

Format 3 kept the whole learner-hash digest (64 digest bytes a row), the
profile as a 4-byte column, issued_at as a 4-byte column and a status byte
with flags for the side values; the side dicts themselves mean the same in
both formats. The conversion is a few vectorised passes over the columns.
"""

from __future__ import annotations

import numpy as np

from services.verification.credential_ids import uuid_id
from services.verification.credential_table import (
    BLOCK_SHIFT,
    DELTA_LIMIT,
    DELTA_OTHER,
    NARROW_PROFILES,
    NEVER,
    PROFILE_SHIFT,
    ROW_DIGESTS,
    STATUS_BITS,
)

FORMAT = 3
COLUMNS = ("ids", "digests", "salts", "profiles", "issued_at", "valid_from", "valid_until", "status")
_OTHER_ID, _OTHER_SALT, _OTHER_TIMES, _SHORT_SALT = 0x04, 0x10, 0x20, 0x40
_NEVER32 = 0xFFFF_FFFF


class Upgraded:
    """The format-4 columns (name -> bytes) and the side values the conversion adds."""

    def __init__(self) -> None:
        self.columns: dict[str, bytes] = {}
        self.kinds_typecode = "H"
        self.other_ids: dict[str, int] = {}
        self.other_salt: dict[int, str] = {}
        self.other_times: dict[int, tuple[int, int, int]] = {}


def upgrade(columns: dict[str, bytes], count: int) -> Upgraded:
    out = Upgraded()
    status = np.frombuffer(columns["status"], dtype=np.uint8, count=count)
    digests = np.frombuffer(columns["digests"], dtype=np.uint8).reshape(count, 64)
    out.columns["ids"] = columns["ids"]
    out.columns["digests"] = np.ascontiguousarray(digests[:, :ROW_DIGESTS]).tobytes()
    ids = np.frombuffer(columns["ids"], dtype=np.uint8).reshape(count, 16)
    for row in np.flatnonzero(~ids.any(axis=1) & (status & _OTHER_ID == 0)).tolist():
        out.other_ids[uuid_id(bytes(16))] = row  # the nil UUID, no longer a packed id
    # A 16-byte salt ending in 8 zero bytes would now read as an 8-byte one.
    salts = np.frombuffer(columns["salts"], dtype=np.uint8).reshape(count, 16)
    whole = ~salts[:, 8:].any(axis=1) & (status & (_SHORT_SALT | _OTHER_SALT) == 0)
    for row in np.flatnonzero(whole).tolist():
        out.other_salt[row] = salts[row].tobytes().hex()
    out.columns["salts"] = columns["salts"]
    profiles = np.frombuffer(columns["profiles"], dtype=np.uint32, count=count)
    wide = count and int(profiles.max()) >= NARROW_PROFILES
    out.kinds_typecode = "I" if wide else "H"
    kinds = (profiles << PROFILE_SHIFT) | (status & STATUS_BITS)
    out.columns["kinds"] = kinds.astype(np.uint32 if wide else np.uint16).tobytes()
    issued = np.frombuffer(columns["issued_at"], dtype=np.uint32, count=count).astype(np.int64)
    base = issued[::1 << BLOCK_SHIFT]
    delta = issued - np.repeat(base, 1 << BLOCK_SHIFT)[:count]
    outside = np.abs(delta) > DELTA_LIMIT
    valid_from = np.frombuffer(columns["valid_from"], dtype=np.uint32, count=count)
    valid_until = np.frombuffer(columns["valid_until"], dtype=np.uint32, count=count)
    for row in np.flatnonzero(outside & (status & _OTHER_TIMES == 0)).tolist():
        until = int(valid_until[row])
        out.other_times[row] = (int(issued[row]), int(valid_from[row]), NEVER if until == _NEVER32 else until)
    delta[outside] = DELTA_OTHER
    out.columns["issued_base"] = base.tobytes()
    out.columns["issued_delta"] = delta.astype(np.int16).tobytes()
    out.columns["valid_from"], out.columns["valid_until"] = columns["valid_from"], columns["valid_until"]
    return out
