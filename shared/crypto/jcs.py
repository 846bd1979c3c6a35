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

import math
from typing import Any, Final

import msgspec
import rfc8785

# rfc8785 only accepts the integers an IEEE 754 double holds exactly (I-JSON).
_MAX_SAFE_INT: Final = 2**53 - 1
_MAX_BMP: Final = "\uffff"
# Marks input the fast path cannot take; never part of a real document.
_SLOW_PATH: Final = object()

# msgspec's performance guide: a reused Encoder skips per-call setup.
_SORTED_ENCODER: Final = msgspec.json.Encoder(order="sorted")


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``obj``."""
    ready = _fast_path_input(obj)
    if ready is not _SLOW_PATH:
        try:
            return _SORTED_ENCODER.encode(ready)
        except UnicodeEncodeError:
            pass  # lone surrogate: let rfc8785 raise its own error for it
    return rfc8785.dumps(obj)


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
