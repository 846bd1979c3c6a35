"""Checks for bytes that come from outside, before any domain code sees them.

Every entry point (HTTP headers, bodies, query strings and paths, CSV and
NDJSON job lines, JWT payloads, Kafka commands) reads untrusted bytes. The
failure modes are the same everywhere and none of them may escape as an
exception the caller did not expect:

- invalid UTF-8 (msgspec raises `UnicodeDecodeError`, not `DecodeError`);
- JSON nested deeper than any real document: msgspec raises `RecursionError`
  past ~1,000 levels, and recursive code further on (JCS, RDF
  canonicalization) breaks far earlier, so the bound is checked up front;
- NUL characters, raw or as `\\u0000`, which Postgres text refuses and which
  no credential field ever needs;
- integers outside the range a field can mean.

This module knows nothing of HTTP: it raises `UntrustedInput`, naming the
field and saying what is wrong in words for a person; each entry point maps
that to its own answer (a 400/422 problem, a per-line problem in a job).
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from shared.crypto.native import jcsproof

T = TypeVar("T")

# Open Badges 3.0 credentials nest about eight levels; evidence, results and
# alignments add a few. Thirty-two leaves room for any real document and
# keeps recursive processing (JCS, canonicalization) far from its limits.
MAX_JSON_DEPTH = 32

# A JSON string escape for NUL, not preceded by an escaped backslash.
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_QUOTES_AND_BRACKETS = bytes(c for c in range(256) if c not in b'[]{}"')
# Arrays counted as objects: in JSON that decodes, brackets nest properly,
# so one kind of pair is enough to count levels.
_ARRAYS_AS_OBJECTS = bytes.maketrans(b"[]", b"{}")


class UntrustedInput(ValueError):
    """Outside input refused before use.

    `malformed` is True when the bytes cannot be read at all (not UTF-8, not
    JSON, too deep), False when they decode but a value is unacceptable (a
    NUL, an integer out of range, a wrong type): callers answer 400 for the
    first and 422 for the second.
    """

    def __init__(self, field: str, reason: str, *, malformed: bool = True) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.malformed = malformed


def text(raw: bytes, field: str) -> str:
    """`raw` as text: strict UTF-8, no NUL."""
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UntrustedInput(field, f"is not valid UTF-8 (byte {exc.start})") from None
    return without_nul(value, field)


def without_nul(value: str, field: str) -> str:
    if "\x00" in value:
        raise UntrustedInput(field, "contains a NUL character", malformed=False)
    return value


def bounded_int(value: str, field: str, *, low: int, high: int) -> int:
    """A decimal integer in [low, high]; anything else is refused, never clamped."""
    digits = value[1:] if value[:1] == "-" else value
    # Checked before int() so that a 100,000-digit "number" costs nothing.
    if not digits.isascii() or not digits.isdigit() or len(digits) > len(str(max(abs(low), abs(high)))):
        raise UntrustedInput(field, f"must be an integer from {low} to {high}", malformed=False)
    number = int(value)
    if not low <= number <= high:
        raise UntrustedInput(field, f"must be an integer from {low} to {high}", malformed=False)
    return number


def json_depth_within(raw: bytes, max_depth: int) -> bool:
    """Whether the JSON in `raw` nests at most `max_depth` arrays/objects.

    Escapes go first (so an escaped quote cannot end a string), then every
    byte but quotes and brackets, then the strings (brackets inside them do
    not count: every other piece between quotes is a string; when no string
    holds a bracket, each is just `""` there, and removing those pairs leaves
    no quote, which is proof of it and saves cutting every string out); each pass of
    removing empty `{}` pairs (arrays made objects) then peels one level, as
    `bytes.replace` never rescans its own output. Every step runs in C over
    ever shorter bytes, so a large body costs a few passes, not a Python loop
    per character. Malformed JSON may be counted wrongly here; the JSON
    decoder refuses it before anything recursive sees it.

    Where the optional C accelerator is built, one pass over the bytes
    proves most bodies within the bound first (_jcsproof.c:
    depth_proven_within, True only where this would answer True too).
    """
    if jcsproof is not None and jcsproof.depth_proven_within(raw, max_depth):
        return True
    unescaped = _ESCAPE.sub(b"", raw) if b"\\" in raw else raw
    quoted = unescaped.translate(None, _QUOTES_AND_BRACKETS)
    if len(quoted) - quoted.count(b'"') <= max_depth:
        return True
    brackets = quoted.replace(b'""', b"")
    if b'"' in brackets:  # some string holds a bracket: cut the strings out
        brackets = b"".join(quoted.split(b'"')[::2])
    brackets = brackets.translate(_ARRAYS_AS_OBJECTS)
    for _ in range(max_depth):
        peeled = brackets.replace(b"{}", b"")
        if peeled == brackets or not peeled:
            return True
        brackets = peeled
    return b"{}" not in brackets


def refuse_json_hazards(raw: bytes, field: str = "body", max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise UntrustedInput if JSON `raw` nests too deeply or escapes a NUL
    (what `decode_json` checks before decoding, for callers that decode themselves)."""
    if not json_depth_within(raw, max_depth):
        raise UntrustedInput(field, f"nests deeper than {max_depth} levels")
    # Substring tests first (most bodies hold no backslash at all): the
    # regex, with its look-behind, costs ~40 ns a byte.
    if b"\\" in raw and b"\\u0000" in raw and _ESCAPED_NUL.search(raw):
        raise UntrustedInput(field, "contains a NUL character (\\u0000)", malformed=False)


def decode_json(raw: bytes, model: type[T], *, field: str = "body",
                max_depth: int = MAX_JSON_DEPTH) -> T:
    """Decode untrusted JSON into `model`, refusing what no caller could handle."""
    refuse_json_hazards(raw, field, max_depth)
    try:
        return msgspec.json.decode(raw, type=model)
    except UnicodeDecodeError as exc:
        raise UntrustedInput(field, f"is not valid UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise UntrustedInput(field, "nests too deeply") from None
    except msgspec.ValidationError as exc:
        raise UntrustedInput(field, str(exc), malformed=False) from None
    except msgspec.DecodeError as exc:
        raise UntrustedInput(field, f"is not valid JSON: {exc}") from None
