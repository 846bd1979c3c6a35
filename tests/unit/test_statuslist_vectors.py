"""W3C Bitstring Status List v1.0 against the spec, 1EdTech and digitalbazaar vectors."""

import base64
import gzip
import json
from pathlib import Path

import pytest

from shared.statuslist import MIN_LENGTH, Bitstring

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "bitstring-status-list"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _encoded_list(name: str) -> str:
    return _load(name)["credentialSubject"]["encodedList"]


BIT_ORDER = _load("bit-order-and-decoding-vectors.json")["bitOrder8"]


@pytest.mark.parametrize(
    "name",
    [
        "spec-example-status-list-credential.json",
        "spec-example-status-list-credential-minimal.json",
    ],
)
def test_spec_example_list_is_131072_zero_bits(name):
    bitstring = Bitstring.decode(_encoded_list(name))
    assert len(bitstring) == MIN_LENGTH == 131072
    assert bitstring.to_bytes() == bytes(16384)
    assert list(bitstring.set_indexes()) == []


def test_spec_revocable_credential_string_index_is_valid():
    status = _load("spec-example-revocable-credential.json")["credentialStatus"]
    bitstring = Bitstring.decode(_encoded_list("spec-example-status-list-credential.json"))
    assert status["statusListIndex"] == "94567"
    assert bitstring.get(status["statusListIndex"]) is False


def test_1edtech_testlist_has_only_index_23_set():
    bitstring = Bitstring.decode(_encoded_list("1edtech-testlist-index23-revoked.json"))
    assert len(bitstring) == 131072
    assert list(bitstring.set_indexes()) == [23]
    assert bitstring.to_bytes()[:4] == bytes([0x00, 0x00, 0x01, 0x00])  # MSB first
    assert bitstring.get(23) and not bitstring.get(16)


def test_1edtech_credential_with_integer_index_is_revoked():
    status = _load("1edtech-ob30-credential-status-revoked.json")["credentialStatus"]
    bitstring = Bitstring.decode(_encoded_list("1edtech-testlist-index23-revoked.json"))
    assert status["statusListIndex"] == 23  # an int, although the spec says string
    assert bitstring.get(status["statusListIndex"]) is True
    assert bitstring.get("23") is True


def test_bit_order_vector_sets_msb_first():
    bitstring = Bitstring(BIT_ORDER["lengthBits"])
    for index in BIT_ORDER["setIndices"]:
        bitstring.set(index, True)
    assert bitstring.to_bytes().hex() == BIT_ORDER["expectedByteHex"] == "48"
    assert list(bitstring.set_indexes()) == [1, 4]


def test_bit_order_vector_decodes_without_multibase_prefix():
    decoded = Bitstring.decode(BIT_ORDER["gzipBase64urlNoPrefix"], min_length=8)
    assert decoded.to_bytes() == bytes.fromhex("48")
    assert list(decoded.set_indexes()) == BIT_ORDER["setIndices"]
    wrong = BIT_ORDER["wrongOrderForContrast"]
    lsb_first = Bitstring.decode("u" + wrong["gzipBase64urlNoPrefix"], min_length=8)
    assert lsb_first.to_bytes().hex() == wrong["expectedByteHex"] == "12"
    assert list(lsb_first.set_indexes()) == [3, 6]  # what {1, 4} would wrongly become


def test_encode_is_multibase_base64url_gzip_and_deterministic():
    bitstring = Bitstring()
    for index in (0, 7, 8, 94567, MIN_LENGTH - 1):
        bitstring.set(index)
    encoded = bitstring.encode()
    assert encoded.startswith("u") and "=" not in encoded
    payload = encoded[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert raw == bitstring.to_bytes()
    assert bitstring.encode() == encoded  # mtime=0: same list, same string


def test_round_trip_preserves_every_set_bit():
    bitstring = Bitstring(2 * MIN_LENGTH)
    indexes = [0, 1, 23, 1000, 131071, 131072, 2 * MIN_LENGTH - 1]
    for index in indexes:
        bitstring.set(str(index))
    bitstring.set(1000, False)
    decoded = Bitstring.decode(bitstring.encode())
    assert decoded == bitstring
    assert list(decoded.set_indexes()) == [i for i in indexes if i != 1000]
    assert Bitstring.decode(bitstring.encode().removeprefix("u")) == bitstring


@pytest.mark.parametrize("index", [MIN_LENGTH, -1, "131072", 10**30])
def test_out_of_range_index_raises(index):
    bitstring = Bitstring()
    with pytest.raises(ValueError):
        bitstring.get(index)
    with pytest.raises(ValueError):
        bitstring.set(index, True)


@pytest.mark.parametrize("index", ["-1", "1.0", " 1", "0x10", "\u0661", "", True, 1.0, None])
def test_malformed_index_raises(index):
    with pytest.raises(ValueError):
        Bitstring().get(index)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "u",
        "uH4sI$",  # not base64url
        "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA==",  # padded
        "u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="),
        "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAA",  # truncated gzip stream
    ],
)
def test_malformed_encoded_list_raises(encoded):
    with pytest.raises(ValueError):
        Bitstring.decode(encoded)


def test_list_shorter_than_spec_minimum_is_rejected_by_default():
    with pytest.raises(ValueError, match="fewer than"):
        Bitstring.decode(Bitstring(8).encode())


def test_decompression_is_capped():
    with pytest.raises(ValueError, match="larger than"):
        Bitstring.decode(Bitstring(2 * MIN_LENGTH).encode(), max_length=MIN_LENGTH)


@pytest.mark.parametrize("length", [0, 7, -8, 12, True])
def test_invalid_lengths_raise(length):
    with pytest.raises(ValueError):
        Bitstring(length)
