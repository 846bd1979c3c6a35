"""RFC 8785 JSON Canonicalization Scheme (JCS) with a msgspec fast path.

Every credential we sign or verify is canonicalized twice (document and proof
configuration), so JCS sits on the hot path. ``rfc8785`` is the reference
implementation but is pure Python; ``msgspec`` emits the same bytes for the
JSON that real credentials contain, about ten times faster.

:func:`canonicalize` takes the fast path only for input it can prove msgspec
renders exactly as JCS; everything else goes to ``rfc8785``. The output is
therefore always ``rfc8785.dumps(obj)``, or the same exception. The proof
rests on these facts, each checked in ``tests/unit/test_crypto_jcs.py``:

* String escaping: msgspec escapes exactly ``"``, ``\\`` and U+0000..U+001F,
  using ``\\b \\t \\n \\f \\r`` or lowercase ``\\u00xx``, and writes everything
  else (``/``, U+007F, U+2028/9, non-ASCII) as raw UTF-8, just as JCS does.
* Key order: msgspec sorts by code point, JCS by UTF-16 code unit. The two
  agree unless a key holds a character above U+FFFF, so such keys go slow.
* Integers print alike, but rfc8785 rejects those beyond +-(2**53 - 1), so
  they go slow (and raise there).
* Floats print differently (msgspec ``42.0``/``1e21``, JCS ``42``/``1e+21``),
  so each float is pre-rendered in JCS form and spliced in as ``msgspec.Raw``.
  NaN and infinities go slow (and raise there).
* Types: only exact ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``
  qualify. msgspec would also encode tuples, subclasses, enums, datetimes,
  bytes and sets, where rfc8785 differs or raises.
* Lone surrogates make msgspec raise ``UnicodeEncodeError``; we then fall
  back so the caller sees rfc8785's own error.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Final, Generic, TypeVar

import msgspec
import rfc8785

from shared.crypto.native import jcsproof

# rfc8785 only accepts the integers an IEEE 754 double holds exactly (I-JSON).
_MAX_SAFE_INT: Final = 2**53 - 1
_MAX_BMP: Final = "\uffff"
# Marks input the fast path cannot take; never part of a real document.
_SLOW_PATH: Final = object()

# msgspec's performance guide: a reused Encoder skips per-call setup.
_SORTED_ENCODER: Final = msgspec.json.Encoder(order="sorted")
T = TypeVar("T")
# PlainJsonDecoder's byte check: after this table a number's digits and sign
# read as "0", the bytes that may stand before a value (":", "[", ",") and
# JSON's whitespace (which may stand between those and the value) as ":", and
# the lead bytes of characters above U+FFFF as "!"; every other byte as ".".
# (Whitespace read as ":" rather than deleted: half the cost of the pass,
# and a number's digits are never split by whitespace.)
_PLAIN_TABLE: Final = bytes(
    ord("0") if b in b"-0123456789" else ord(":") if b in b":[, \t\r\n" else ord("!") if b >= 0xF0
    else ord(".") for b in range(256))
# 2**53 - 1 has 16 digits: an integer of 16 or more (a sign counted as one) may be out of range.
_LONG_INTEGER: Final = b":" + b"0" * 16


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``obj``."""
    ready = _fast_path_input(obj)
    if ready is not _SLOW_PATH:
        try:
            return _SORTED_ENCODER.encode(ready)
        except UnicodeEncodeError:
            pass  # lone surrogate: let rfc8785 raise its own error for it
    return rfc8785.dumps(obj)


def canonicalize_plain(obj: Any) -> bytes:
    """:func:`canonicalize` for a value that :class:`PlainJsonDecoder` decoded
    and found plain: msgspec then renders it exactly as JCS, so the pre-walk
    that proves this of any other value is skipped (same bytes, same errors)."""
    try:
        return _SORTED_ENCODER.encode(obj)
    except UnicodeEncodeError:
        return canonicalize(obj)  # lone surrogate: rfc8785 raises its own error for it


def canonicalize_struct_fields(struct: msgspec.Struct) -> bytes | None:
    """:func:`canonicalize` of the dict of ``struct``'s fields (name to value,
    a ``msgspec.Raw`` kept as it is), straight from the Struct, or None where
    that cannot be shown to give the same bytes (the caller then builds the
    dict). It can when every value is a string, ``msgspec.Raw``, None, a bool
    or a safe integer, the facts above then make msgspec's sorted encoding
    JCS, and the class encodes exactly its fields under their own names (no
    rename, tag, omit_defaults or array_like, no name above U+FFFF). A lone
    surrogate also gives None, so the caller's path raises rfc8785's error."""
    if not _encodes_its_fields(type(struct)):
        return None
    for value in msgspec.structs.astuple(struct):
        kind = type(value)
        if not (kind is str or kind is msgspec.Raw or value is None or kind is bool
                or (kind is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)):
            return None
    try:
        return _SORTED_ENCODER.encode(struct)
    except UnicodeEncodeError:
        return None


@functools.cache
def _encodes_its_fields(cls: type[msgspec.Struct]) -> bool:
    config = cls.__struct_config__
    return (cls.__struct_encode_fields__ == cls.__struct_fields__ and config.tag_field is None
            and not config.omit_defaults and not config.array_like
            and all(name.isascii() or max(name) <= _MAX_BMP for name in cls.__struct_fields__))


class PlainJsonDecoder(Generic[T]):
    """A msgspec JSON decoder of `type` that also says whether what it decoded
    is plain: no float, no integer that may lie beyond +-(2**53 - 1), no
    character above U+FFFF. Of such values every untyped part (the
    `dict[str, Any]` of a document) can go to :func:`canonicalize_plain`.

    Floats are counted as msgspec meets them (its `float_hook`, given the
    literal once msgspec has range-checked it, returns what msgspec itself
    would); the rest is one conservative pass over the bytes, which may call
    a value not plain when a string merely looks like a long integer."""

    def __init__(self, type: type[T]) -> None:
        self._floats = 0
        self._decoder = msgspec.json.Decoder(type, float_hook=self._float)

    def _float(self, literal: str) -> float:
        self._floats += 1
        return float(literal)

    def decode(self, raw: bytes) -> T:
        """The value; raises as msgspec's decode does."""
        self._floats = 0
        return self._decoder.decode(raw)

    def plain(self, raw: bytes) -> bool:
        """Whether the value just decoded from `raw` is plain. A pass over
        the bytes (~1 ns a byte), so asked only of values that will be
        canonicalized."""
        return self._floats == 0 and _plain_bytes(raw)


def _python_plain_bytes(raw: bytes) -> bool:
    """No integer literal of 16 or more digits and no character above U+FFFF,
    raw or as a surrogate escape, anywhere in JSON `raw` (which decoded).
    (_jcsproof.plain_bytes gives the same answer in one pass, where built.)"""
    mapped = raw.translate(_PLAIN_TABLE)
    if b"!" in mapped or _may_hold_long_integer(raw, mapped):
        return False
    # A backslash first: one memchr, where looking for "\\u" stops at every "u".
    return b"\\" not in raw or b"\\u" not in raw or _SURROGATE_ESCAPE.search(raw) is None


_plain_bytes: Final = jcsproof.plain_bytes if jcsproof is not None else _python_plain_bytes


def _may_hold_long_integer(raw: bytes, mapped: bytes) -> bool:
    """Whether some run of 16 digits (or sign) in JSON `raw` may be a number.

    Each run the table finds after a ":", "[", "," or whitespace is looked
    at more closely, as `raw` decoded: a value stands (whitespace aside)
    after "[" or ",", or after a ":" that follows a key's closing quote. A
    run after a colon that follows anything else ("urn:uuid:12345678-1234-4…",
    common in credential ids), or after whitespace that follows anything
    else, lies inside a string and is skipped. (A colon after an escaped
    quote still counts: it only costs the pre-walk.)"""
    at = mapped.find(_LONG_INTEGER)
    while at >= 0:
        token = _last_token(raw, at)
        if token < 0 or raw[token] in b"[,":  # first in the text, or in an array
            return True
        if raw[token] == _COLON and (key := _last_token(raw, token - 1)) >= 0 and raw[key] == _QUOTE:
            return True
        at = mapped.find(_LONG_INTEGER, at + 1)
    return False


def _last_token(raw: bytes, index: int) -> int:
    """The index of the last byte at or before `index` that is not JSON whitespace, or -1."""
    while index >= 0 and raw[index] in _JSON_WHITESPACE:
        index -= 1
    return index


_JSON_WHITESPACE: Final = b" \t\r\n"
_COLON, _QUOTE = ord(":"), ord('"')
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89abAB]")


def fast_path_applies(obj: Any) -> bool:
    """Say whether :func:`canonicalize` can serve ``obj`` with msgspec."""
    return _fast_path_input(obj) is not _SLOW_PATH


def _fast_path_input(obj: Any) -> Any:
    """Return what msgspec should encode for ``obj``, or _SLOW_PATH.

    Usually that is ``obj`` itself. Only containers holding floats are copied,
    with each float swapped for its JCS spelling as ``msgspec.Raw``.
    """
    try:
        return _rewrite(obj)
    except RecursionError:
        return _SLOW_PATH  # absurdly deep: let rfc8785 decide what happens


def _rewrite(node: Any) -> Any:
    # Recursive, with string values (most of a credential) skipped inline by
    # the container helpers: measured faster than an explicit-stack walk.
    kind = type(node)
    if kind is dict:
        return _rewrite_dict(node)
    if kind is list:
        return _rewrite_list(node)
    if kind is int:
        return node if -_MAX_SAFE_INT <= node <= _MAX_SAFE_INT else _SLOW_PATH
    if kind is float:
        return _jcs_number(node)
    if kind is str or kind is bool or node is None:
        return node
    if kind is msgspec.Raw:
        # Trusted to be canonical JSON already (produced by canonicalize):
        # how the ledger embeds a signed document without re-encoding it.
        return node
    return _SLOW_PATH  # tuples, subclasses, foreign types


def _rewrite_dict(node: dict[Any, Any]) -> Any:
    copied: dict[str, Any] | None = None
    for key, value in node.items():
        # isascii() is O(1) in CPython, so only non-ASCII keys get scanned.
        if type(key) is not str or not (key.isascii() or max(key) <= _MAX_BMP):
            return _SLOW_PATH
        if type(value) is str:
            continue
        new = _rewrite(value)
        if new is not value:  # a float was pre-rendered below, or a dead end
            if new is _SLOW_PATH:
                return _SLOW_PATH
            if copied is None:
                copied = dict(node)
            copied[key] = new
    return node if copied is None else copied


def _rewrite_list(node: list[Any]) -> Any:
    copied: list[Any] | None = None
    for index, value in enumerate(node):
        if type(value) is str:
            continue
        new = _rewrite(value)
        if new is not value:
            if new is _SLOW_PATH:
                return _SLOW_PATH
            if copied is None:
                copied = list(node)
            copied[index] = new
    return node if copied is None else copied


def _jcs_number(value: float) -> Any:
    # msgspec writes 42.0 and 1e21 where JCS (ECMAScript) writes 42 and 1e+21,
    # so floats are pre-rendered. Integral ones, the common case in Open
    # Badges (creditsEarned: 42.0), print as integers; the rest use rfc8785's
    # own number formatting so the two paths cannot disagree.
    if not math.isfinite(value):
        return _SLOW_PATH  # rfc8785 raises FloatDomainError
    if value.is_integer() and abs(value) <= _MAX_SAFE_INT:
        return msgspec.Raw(b"%d" % value)
    return msgspec.Raw(rfc8785.dumps(value))
