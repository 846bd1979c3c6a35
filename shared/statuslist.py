"""W3C Bitstring Status List v1.0: the bitstring carried in a list's `encodedList`.

Bit order is the spec's "left-most bit first": index 0 is the most significant bit of
byte 0. `encodedList` is the multibase 'u' prefix + base64url (no padding) of the GZIP
of the bytes.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from collections.abc import Iterator

MIN_LENGTH = 131_072  # bits (16 KB): the spec minimum, so one list hides many holders
# Lists arrive from remote issuers: cap the decompressed size so a small gzip bomb
# cannot exhaust memory. 2**27 bits (16 MiB) is far beyond any real list.
MAX_LENGTH = 2**27

_MULTIBASE_BASE64URL = "u"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_DECIMAL = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²"
_NONZERO_BYTE = re.compile(rb"[^\x00]")


class Bitstring:
    """A mutable status bitstring; all bits start at 0 (status not set)."""

    __slots__ = ("_bytes",)

    def __init__(self, length: int = MIN_LENGTH) -> None:
        """Create an all-zero list of `length` bits (a positive multiple of 8).

        Lengths below MIN_LENGTH are allowed for tests and tooling; issuers should keep
        the default so a list does not narrow down whose credential is being checked.
        """
        if isinstance(length, bool) or not isinstance(length, int):
            raise ValueError("bitstring length must be an integer")
        if length <= 0 or length % 8:
            raise ValueError(f"bitstring length must be a positive multiple of 8, got {length}")
        self._bytes = bytearray(length // 8)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bitstring:
        bitstring = cls(8 * len(data))
        bitstring._bytes[:] = data
        return bitstring

    def __len__(self) -> int:
        return 8 * len(self._bytes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitstring) and self._bytes == other._bytes

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)

    def get(self, index: int | str) -> bool:
        """Status bit at `index`; a string index is a `statusListIndex` value."""
        byte, mask = self._locate(index)
        return bool(self._bytes[byte] & mask)

    def set(self, index: int | str, value: bool = True) -> None:
        byte, mask = self._locate(index)
        if value:
            self._bytes[byte] |= mask
        else:
            self._bytes[byte] &= ~mask & 0xFF

    def set_indexes(self) -> Iterator[int]:
        """Indexes of set bits in ascending order; zero bytes are skipped at C speed."""
        for match in _NONZERO_BYTE.finditer(self._bytes):
            byte_index, value = match.start(), self._bytes[match.start()]
            for bit in range(8):
                if value & (0x80 >> bit):
                    yield 8 * byte_index + bit

    def encode(self) -> str:
        """The `encodedList` value. mtime=0 keeps the output identical across runs."""
        compressed = gzip.compress(bytes(self._bytes), compresslevel=9, mtime=0)
        encoded = base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")
        return _MULTIBASE_BASE64URL + encoded

    @classmethod
    def decode(
        cls, encoded_list: str, *, min_length: int = MIN_LENGTH, max_length: int = MAX_LENGTH
    ) -> Bitstring:
        """Parse an `encodedList`, with or without its leading 'u' multibase prefix.

        Raises ValueError when the value is malformed or the list holds fewer than
        `min_length` or more than `max_length` bits.
        """
        if not isinstance(encoded_list, str):
            raise ValueError("encodedList must be a string")
        payload = _base64url_decode(encoded_list.removeprefix(_MULTIBASE_BASE64URL))
        data = _gunzip(payload, max_bytes=max_length // 8)
        if not data or 8 * len(data) < min_length:
            raise ValueError(f"status list has {8 * len(data)} bits, fewer than {min_length}")
        return cls.from_bytes(data)

    def _locate(self, index: int | str) -> tuple[int, int]:
        """Byte offset and bit mask of `index`, MSB first."""
        position = _parse_index(index)
        if position >= len(self):
            raise ValueError(f"status index {position} is outside a list of {len(self)} bits")
        return position >> 3, 0x80 >> (position & 7)


def _parse_index(index: int | str) -> int:
    # The spec types statusListIndex as a base-10 string, but integers are common in the
    # wild (e.g. 1EdTech's OB 3.0 samples), so both are accepted.
    if isinstance(index, str) and _DECIMAL.fullmatch(index):
        return int(index)
    if isinstance(index, int) and not isinstance(index, bool) and index >= 0:
        return index
    raise ValueError(f"status index must be a non-negative integer or digit string: {index!r}")


def _base64url_decode(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("encodedList is not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _gunzip(data: bytes, *, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"encodedList is not valid GZIP: {exc}") from None
    if len(out) > max_bytes:
        raise ValueError(f"status list is larger than {8 * max_bytes} bits")
    if not inflater.eof or inflater.unused_data:
        raise ValueError("encodedList GZIP stream is truncated or has trailing data")
    return out
