"""RFC 8785 JCS: vectors, the claims the msgspec fast path rests on, and parity with rfc8785."""

from __future__ import annotations

import enum
import json
import math
import random
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import rfc8785

from shared.crypto.jcs import PlainJsonDecoder, canonicalize, canonicalize_plain, fast_path_applies

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "eddsa"


def msgspec_sorted(obj: Any) -> bytes:
    """The raw fast-path encoder, to test its claimed equivalence directly."""
    return msgspec.json.encode(obj, order="sorted")


def outcome(fn: Any, obj: Any) -> tuple[str, Any]:
    """Result bytes or exception type, so raising behaviour can be compared too."""
    try:
        return ("ok", fn(obj))
    except Exception as exc:  # parity of *any* failure is the point
        return ("raises", type(exc))


# --- W3C vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "canon"),
    [
        ("unsigned.json", "eddsa-jcs-2022/canonDocJCS.txt"),
        ("eddsa-jcs-2022/proofConfigJCS.json", "eddsa-jcs-2022/proofCanonJCS.txt"),
    ],
)
def test_reproduces_w3c_canonical_files_on_the_fast_path(source: str, canon: str) -> None:
    document = json.loads((VECTORS / source).read_text(encoding="utf-8"))
    expected = (VECTORS / canon).read_bytes()
    assert fast_path_applies(document)
    assert canonicalize(document) == expected


def test_credentials_are_canonicalized_without_rfc8785(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast path is the point of the module: make sure it is really taken.
    document = json.loads((VECTORS / "unsigned.json").read_text(encoding="utf-8"))
    expected = rfc8785.dumps(document)

    def slow_path_called(obj: Any) -> bytes:
        raise AssertionError("rfc8785 used for a fast-path document")

    monkeypatch.setattr(rfc8785, "dumps", slow_path_called)
    assert canonicalize(document) == expected


# --- the fast path's equivalence claims, checked against rfc8785 -----------------------------


def test_escaping_matches_jcs_for_every_unicode_scalar_value() -> None:
    every_char = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert fast_path_applies(every_char)
    assert msgspec_sorted(every_char) == rfc8785.dumps(every_char)
    assert canonicalize(every_char) == rfc8785.dumps(every_char)


def test_escapes_exactly_what_rfc8785_section_3_2_2_2_says() -> None:
    text = '"\\\b\t\n\f\r\x00\x01\x1f\x7f/\u2028\u2029é€😀'
    expected = (
        b'"\\"\\\\\\b\\t\\n\\f\\r\\u0000\\u0001\\u001f\x7f/' + "\u2028\u2029é€😀".encode() + b'"'
    )
    assert canonicalize(text) == expected


def test_rfc8785_key_order_example_needs_the_slow_path() -> None:
    # RFC 8785 section 3.2.3: keys sort by UTF-16 code units, so the emoji
    # (surrogates 0xD83D...) comes before U+FB33 although its code point is larger.
    document = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys_in_output = list(json.loads(canonicalize(document)))
    assert keys_in_output == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert not fast_path_applies(document)
    assert msgspec_sorted(document) != canonicalize(document)  # why the check exists


def test_astral_key_anywhere_in_the_tree_routes_to_slow_path() -> None:
    document = {"a": [{"b": {"\U00010000x": 1, "\ue000": 2}}]}
    assert not fast_path_applies(document)
    assert canonicalize(document) == rfc8785.dumps(document)
    assert canonicalize(document).index("\U00010000".encode()) < canonicalize(document).index(
        "\ue000".encode()
    )


def test_astral_characters_in_values_stay_on_the_fast_path() -> None:
    document = {"name": "🎓 Alumni 𝔘", "\ue000": "𐀀"}
    assert fast_path_applies(document)
    assert canonicalize(document) == rfc8785.dumps(document)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1e21, b"1e+21"),
        (0.1, b"0.1"),
        (-0.0, b"0"),
        (5.0, b"5"),
        (-1.5, b"-1.5"),
        (1e-7, b"1e-7"),
        (0.000001, b"0.000001"),
        (5e-324, b"5e-324"),
        (1.7976931348623157e308, b"1.7976931348623157e+308"),
        (9007199254740994.0, b"9007199254740994"),
        (999999999999999900000.0, b"999999999999999900000"),
        (1e23, b"1e+23"),
        (333333333.3333333, b"333333333.3333333"),
    ],
)
def test_floats_use_ecmascript_formatting(number: float, expected: bytes) -> None:
    # Values from RFC 8785 appendix B / ECMA-262 Number::toString.
    document: dict[str, Any] = {"n": [number], "m": {"x": number}}
    assert fast_path_applies(document)
    assert canonicalize(document) == b'{"m":{"x":' + expected + b'},"n":[' + expected + b"]}"
    assert canonicalize(document) == rfc8785.dumps(document)


def test_msgspec_float_format_differs_which_is_why_floats_are_pre_rendered() -> None:
    assert msgspec_sorted([5.0, 1e21, -0.0]) != rfc8785.dumps([5.0, 1e21, -0.0])


def test_float_pre_rendering_leaves_the_input_untouched() -> None:
    inner: dict[str, Any] = {"creditsEarned": 42.0, "tags": ["a", 0.5]}
    document: dict[str, Any] = {"credentialSubject": inner, "other": {"k": "v"}}
    assert canonicalize(document) == rfc8785.dumps(document)
    assert document == {
        "credentialSubject": {"creditsEarned": 42.0, "tags": ["a", 0.5]},
        "other": {"k": "v"},
    }
    assert document["credentialSubject"] is inner
    assert type(inner["creditsEarned"]) is float and type(inner["tags"][1]) is float


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (9007199254740991.0, b"9007199254740991"),
        (2.0**53, b"9007199254740992"),
        (2.0**60, b"1152921504606847000"),
        (-42.0, b"-42"),
    ],
)
def test_integral_floats_around_the_exact_integer_limit(number: float, expected: bytes) -> None:
    # Up to 2**53 an integral double prints as its exact integer; beyond, ECMAScript
    # prints only the shortest round-trip digits (2**60 is ...846976 exactly).
    assert canonicalize([number]) == b"[" + expected + b"]" == rfc8785.dumps([number])


@pytest.mark.parametrize("number", [0, 1, -1, 2**53 - 1, -(2**53 - 1), 10**15])
def test_safe_integers_take_the_fast_path(number: int) -> None:
    assert fast_path_applies([number])
    assert canonicalize([number]) == rfc8785.dumps([number]) == f"[{number}]".encode()


@pytest.mark.parametrize("number", [2**53, -(2**53), 2**64])
def test_unsafe_integers_raise_like_rfc8785(number: int) -> None:
    assert msgspec_sorted([number])  # msgspec alone would happily emit them
    assert not fast_path_applies([number])
    with pytest.raises(rfc8785.IntegerDomainError):
        canonicalize([number])


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


@pytest.mark.parametrize(
    "value",
    [
        (1, "a", None),  # tuple: rfc8785 accepts it as an array
        {"k": Colour.RED, "s": Size.BIG},  # enum subclasses of str / int
        {1: "non-string key"},
        {"when": datetime(2024, 1, 1, tzinfo=UTC)},
        {"raw": b"bytes"},
        {"set": {1, 2}},
        {"nan": math.nan},
        {"inf": -math.inf},
        {"lone": "\ud800"},
        {"\udfff": "lone surrogate key"},
        [True, False, None, {}, []],
    ],
)
def test_anything_else_behaves_exactly_like_rfc8785(value: Any) -> None:
    assert outcome(canonicalize, value) == outcome(rfc8785.dumps, value)


def test_non_json_types_are_not_silently_encoded() -> None:
    # msgspec would serialize these; rfc8785 refuses, and so must we.
    for value in ({"d": datetime(2024, 1, 1)}, {"b": b"x"}, {"s": {"x"}}):
        assert msgspec_sorted(value)
        with pytest.raises(rfc8785.CanonicalizationError):
            canonicalize(value)


def test_deep_nesting_does_not_break_the_check() -> None:
    document: Any = "leaf"
    for _ in range(5000):
        document = [document]
    assert fast_path_applies(document) is False
    assert outcome(canonicalize, document) == outcome(rfc8785.dumps, document)


# --- randomized parity -------------------------------------------------------------------

# Small alphabets make equal prefixes ("a" vs "a\x00") and near-ties likely.
BMP_KEY_CHARS = 'aAbz09_@\x00\x1f\r"\\/\x7f\u0080é\u2028\u20ac\ud7ff\ue000\ufb33\uffef\uffff'
ASTRAL_CHARS = "\U00010000\U0001f600\U0010ffff"
VALUE_CHARS = BMP_KEY_CHARS + ASTRAL_CHARS + "\b\t\n\f\x01 \u2029\ufeff"


def random_text(rng: random.Random, alphabet: str, max_len: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len)))


def random_float(rng: random.Random) -> float:
    """Finite doubles: any bit pattern, plus the shapes credentials and JCS edge cases use."""
    while True:
        candidate: float = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(candidate):
            break
    return rng.choice(
        [
            candidate,
            rng.uniform(-1e6, 1e6),
            float(rng.randint(-(2**54), 2**54)),
            rng.choice([1e21, 1e-7, 0.1, -0.0, 5.0, 2.0**53, 5e-324, 1.7976931348623157e308]),
        ]
    )


def random_document(rng: random.Random, depth: int, *, floats: bool, slow: bool) -> Any:
    """A random JSON tree. ``slow`` adds material that must take the rfc8785 path."""
    roll = rng.random()
    if depth > 0 and roll < 0.3:
        key_chars = BMP_KEY_CHARS + (ASTRAL_CHARS if slow else "")
        return {
            random_text(rng, key_chars, 4): random_document(
                rng, depth - 1, floats=floats, slow=slow
            )
            for _ in range(rng.randint(0, 6))
        }
    if depth > 0 and roll < 0.45:
        return [
            random_document(rng, depth - 1, floats=floats, slow=slow)
            for _ in range(rng.randint(0, 5))
        ]
    scalars: list[Any] = [
        random_text(rng, VALUE_CHARS, 12),
        rng.randint(-(2**53 - 1), 2**53 - 1),
        rng.randint(-1000, 1000),
        rng.choice([True, False, None]),
    ]
    if floats:
        scalars.append(random_float(rng))
    if slow:
        scalars.append(rng.choice([2**53, -(2**64), math.nan, math.inf, (1, "t"), "\udc00"]))
    return rng.choice(scalars)


def test_msgspec_equals_rfc8785_on_random_float_free_documents() -> None:
    # The raw equivalence claim, without our float pre-rendering in between.
    rng = random.Random(8785)
    for _ in range(3000):
        document = random_document(rng, depth=4, floats=False, slow=False)
        assert fast_path_applies(document), document
        assert msgspec_sorted(document) == rfc8785.dumps(document), document


def test_fast_path_equals_rfc8785_on_random_documents_with_floats() -> None:
    rng = random.Random(2022)
    for _ in range(3000):
        document = random_document(rng, depth=4, floats=True, slow=False)
        assert fast_path_applies(document), document
        assert canonicalize(document) == rfc8785.dumps(document), document


def test_canonicalize_equals_rfc8785_on_random_mixed_documents() -> None:
    rng = random.Random(1021)
    fast = 0
    for _ in range(3000):
        document = random_document(rng, depth=4, floats=True, slow=True)
        fast += fast_path_applies(document)
        assert outcome(canonicalize, document) == outcome(rfc8785.dumps, document), document
    # Both routes must really be exercised for this test to mean anything.
    assert 300 < fast < 2700


# --- plain JSON: decoded and found plain, canonicalized without the pre-walk ---------------

PLAIN = PlainJsonDecoder(Any)


def decode_plain(raw: bytes) -> tuple[Any, bool]:
    value = PLAIN.decode(raw)
    return value, PLAIN.plain(raw)


@pytest.mark.parametrize("raw", [
    b'{"a": 1.5}', b'{"a": 5.0}', b'{"a":1e3}', b'[0.0]', b'{"a": {"b": [1E-7]}}',
    b'{"a": 9007199254740992}', b'{"a":[-9007199254740992]}', b'{"a" :\n  1234567890123456}',
    b'[1,\t-12345678901234567890]', b'[-123456789012345]', '{"\U0001f600": 1}'.encode(), b'{"\\ud83d\\ude00": 1}',
    '["\U0001f600"]'.encode(), b'{"a" \t: \r\n-1234567890123456}', b'{"a":[1,\n 12345678901234567]}',
    b'{"id":"urn:uuid:1","n":1234567890123456}', b'{"a":"x\\":1234567890123456"}', b' 1234567890123456',
])
def test_floats_long_integers_and_astral_characters_are_not_plain(raw: bytes) -> None:
    value, plain = decode_plain(raw)
    assert not plain
    assert value == msgspec.json.decode(raw)  # decoded as msgspec alone would


@pytest.mark.parametrize("raw", [
    b'{"a": 900719925474099, "b": -90071992547409, "c": "12345678901234567890", "d": [true, null, "x"]}',
    b'{"urn": "urn:isbn:9781234567897", "t": "2025-06-01T10:00:00.5Z", "e": "\\u00e9\\n"}',
    '{"é€\uffff": ["\u2028"]}'.encode(),
    # Digit runs inside strings, after a colon or a space that no value follows: credential ids, prose.
    b'{"id": "urn:uuid:12345678-1234-4123-8123-123456789012", "b": ["x: 1234567890123456789"]}',
    b'{"a": "word 12345678901234567", "b": "tel:+1234567890123456"}',
])
def test_documents_without_them_are_plain_and_canonicalize_as_rfc8785(raw: bytes) -> None:
    value, plain = decode_plain(raw)
    assert plain
    assert canonicalize_plain(value) == rfc8785.dumps(value) == canonicalize(value)


def test_plain_verdicts_equal_rfc8785_on_random_documents() -> None:
    # Whatever the decoder calls plain canonicalizes as rfc8785 does; whatever it
    # does not is left to canonicalize, so only the plain ones are compared here.
    rng = random.Random(53)
    plain_count = 0
    for n in range(4000):
        document = random_document(rng, depth=4, floats=n % 2 == 0, slow=n % 3 == 0)
        try:
            raw = msgspec.json.encode({"d": document})
        except (TypeError, ValueError, UnicodeEncodeError):
            continue  # not JSON at all (NaN, a tuple, a lone surrogate)
        value, plain = decode_plain(raw)
        assert value == msgspec.json.decode(raw)
        if plain:
            plain_count += 1
            assert outcome(canonicalize_plain, value) == outcome(rfc8785.dumps, value) == outcome(canonicalize, value)
    assert plain_count > 500


def test_a_float_anywhere_makes_the_next_decoding_start_afresh() -> None:
    assert not decode_plain(b"[1.5]")[1]
    assert decode_plain(b"[1]")[1]


def test_lone_surrogates_raise_as_rfc8785_does() -> None:
    value = {"a": "\udc00"}
    assert outcome(canonicalize_plain, value) == outcome(rfc8785.dumps, value) == ("raises", outcome(
        rfc8785.dumps, value)[1])


def _long_integers(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_long_integers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_long_integers(v) for v in value)
    return int(type(value) is int and len(str(value)) >= 16)


def test_every_long_integer_is_found_whatever_the_spacing_and_the_digits_in_strings() -> None:
    # Strings full of digit runs after colons and spaces (ids, prose) beside
    # integers of every length, in every JSON spacing: a value with an
    # integer of 16 or more characters is never called plain.
    rng = random.Random(61)
    found = plain_count = 0
    for _ in range(3000):
        def leaf() -> Any:
            digits = "".join(rng.choice("0123456789-") for _ in range(rng.randint(10, 24)))
            return rng.choice([
                rng.randint(-10**rng.randint(1, 20), 10**rng.randint(1, 20)),
                f"urn:uuid:{digits}", f"x {digits}", f"a:{digits}", f"[{digits}", f",{digits}", f'"{digits}'])
        value = {f"k{n}": [leaf() for _ in range(rng.randint(0, 3))] if rng.random() < 0.3 else leaf()
                 for n in range(rng.randint(1, 6))}
        spacing = rng.choice([None, 0, 2])
        separators = rng.choice([(",", ":"), (", ", ": "), (" ,\t", " :\r\n ")])
        raw = json.dumps(value, indent=spacing, separators=separators).encode()
        decoded, plain = decode_plain(raw)
        assert decoded == value
        if _long_integers(value):
            found += 1
            assert not plain, raw
        plain_count += plain
    assert found > 500 and plain_count > 500
