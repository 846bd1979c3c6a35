"""The one set of checks every entry point applies to outside bytes."""

from __future__ import annotations

import msgspec
import pytest

from shared.untrusted import (
    MAX_JSON_DEPTH,
    UntrustedInput,
    bounded_int,
    decode_json,
    json_depth_within,
    text,
)


class Item(msgspec.Struct):
    id: str


def nested(depth: int, open_: bytes = b"[", close: bytes = b"]") -> bytes:
    return open_ * depth + close * depth


@pytest.mark.parametrize("depth", [1, 5, MAX_JSON_DEPTH])
def test_depth_within_limit_passes(depth: int) -> None:
    assert json_depth_within(nested(depth), MAX_JSON_DEPTH)
    assert decode_json(nested(depth), object) is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_depth_beyond_limit_is_malformed(depth: int) -> None:
    with pytest.raises(UntrustedInput) as refused:
        decode_json(nested(depth), object)
    assert refused.value.malformed and "deeper" in refused.value.reason


def test_alternating_nesting_counts_every_level() -> None:
    doc = b'{"a":[' * 17 + b"1" + b"]}" * 17  # 34 levels, objects and arrays alternating
    assert not json_depth_within(doc, MAX_JSON_DEPTH)
    assert json_depth_within(doc, 34)


def test_brackets_inside_strings_do_not_count() -> None:
    doc = b'{"id": "' + b"[" * 5_000 + b'\\"{{{"}'
    assert json_depth_within(doc, 2)
    assert decode_json(doc, Item).id.startswith("[[[")


def test_invalid_utf8_is_malformed_not_an_exception_of_another_kind() -> None:
    with pytest.raises(UntrustedInput) as refused:
        decode_json(b'{"id":"\xff"}', Item)
    assert refused.value.malformed and "UTF-8" in refused.value.reason


def test_escaped_nul_is_refused_but_an_escaped_backslash_before_u0000_is_text() -> None:
    with pytest.raises(UntrustedInput) as refused:
        decode_json(b'{"id":"a\\u0000b"}', Item)
    assert not refused.value.malformed and "NUL" in refused.value.reason
    assert decode_json(b'{"id":"a\\\\u0000b"}', Item).id == "a\\u0000b"


def test_wrong_type_is_invalid_and_bad_syntax_malformed() -> None:
    with pytest.raises(UntrustedInput) as wrong_type:
        decode_json(b'{"id": 5}', Item, field="item")
    assert not wrong_type.value.malformed and wrong_type.value.field == "item"
    with pytest.raises(UntrustedInput) as bad_syntax:
        decode_json(b'{"id": ', Item)
    assert bad_syntax.value.malformed


def test_text_checks_utf8_and_nul() -> None:
    assert text("é".encode(), "h") == "é"
    for raw in (b"\xc3", b"a\x00b"):
        with pytest.raises(UntrustedInput):
            text(raw, "header")


@pytest.mark.parametrize("value", ["", "-", "1.5", "abc", "٣", "9" * 31, "99", "-1"])
def test_bounded_int_refuses_what_is_not_in_range(value: str) -> None:
    with pytest.raises(UntrustedInput):
        bounded_int(value, "position", low=0, high=50)


def test_bounded_int_accepts_the_range_ends() -> None:
    assert bounded_int("0", "p", low=0, high=50) == 0
    assert bounded_int("50", "p", low=0, high=50) == 50
    assert bounded_int("-3", "p", low=-3, high=3) == -3


def _depth_by_decoding(raw: bytes) -> int:
    def depth(value: object) -> int:
        if isinstance(value, dict):
            return 1 + max(map(depth, value.values()), default=0)
        if isinstance(value, list):
            return 1 + max(map(depth, value), default=0)
        return 0
    return depth(msgspec.json.decode(raw))


def test_depth_counts_brackets_inside_strings_as_text() -> None:
    import random

    rng = random.Random(32)
    pieces = ["", "[", "]", "{", "}", "x", '\\"', "[]", "]["]
    for _ in range(3000):
        def value(level: int) -> object:
            roll = rng.random()
            if level < 6 and roll < 0.3:
                return [value(level + 1) for _ in range(rng.randint(0, 3))]
            if level < 6 and roll < 0.6:
                return {"".join(rng.choices(pieces, k=2)): value(level + 1) for _ in range(rng.randint(0, 3))}
            return "".join(rng.choices(pieces, k=rng.randint(0, 3)))
        raw = msgspec.json.encode(value(0))
        actual = _depth_by_decoding(raw)
        for limit in (actual - 1, actual, actual + 1):
            if limit >= 0:
                assert json_depth_within(raw, limit) == (actual <= limit), raw
