"""The verifier's C accelerator (shared/crypto/_jcsproof.c) against the
Python code it stands in for: where it answers, the same bytes as
jcs.canonicalize, multibase.multibase_decode, eddsa_jcs.prepare_proof and
the ctypes libsodium call; where it cannot be sure (None), input the Python
path refuses or handles its own way. And the service's answers to foreign
documents, hostile ones included, byte for byte with and without it."""

from __future__ import annotations

import asyncio
import copy
import hashlib
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.verification import documents, ed25519
from services.verification.batch import BatchVerifier
from services.verification.freshness import Freshness
from services.verification.handlers import decode_items
from shared import untrusted
from shared.crypto import eddsa_jcs, jcs
from shared.crypto.eddsa_jcs import raw_public_key, signing_key_from_seed
from shared.crypto.jcs import canonicalize
from shared.crypto.multibase import BASE58_ALPHABET, base58_encode, multibase_decode, multibase_encode
from shared.crypto.native import jcsproof
from shared.jsonld.contexts import ContextLoader
from tests.support import foreign_corpus
from tests.support.credentials_for_verification import build_document, sign

pytestmark = pytest.mark.skipif(
    jcsproof is None, reason="the C accelerator is not built (no compiler or OpenSSL headers at install)"
)

NOW = (1_700_000_000, 1_800_000_000, 4_200_000_000)
KEY = signing_key_from_seed(bytes(range(32)))
MAX_SAFE = 2**53 - 1


def python_outcome(value: Any) -> bytes | str:
    try:
        return canonicalize(value)
    except Exception as exc:  # noqa: BLE001 - the kind of refusal is what is compared
        return type(exc).__name__


def assert_same_jcs(value: Any, *, handled: bool | None = None) -> None:
    native = jcsproof.canonical(value)
    if native is not None:
        assert native == python_outcome(value)
        assert jcsproof.canonical_sha256(value) == hashlib.sha256(native).digest()
    else:
        assert jcsproof.canonical_sha256(value) is None
    if handled is not None:
        assert (native is not None) == handled, value


# -- JCS --

STRINGS = ["", "plain", 'q"b\\s/', "\x00\x01\x1f\x7f\b\t\n\f\r", "é€\u2028\u2029\ufeff", "😀 \U0010ffff",
           "\ue000\uffff", "\x80\xff", "ünïcödé" * 50, "x" * 20_000]


@pytest.mark.parametrize("text", STRINGS)
def test_strings_are_escaped_and_encoded_as_python_does(text: str) -> None:
    assert_same_jcs(text, handled=True)
    assert_same_jcs({text: text, "k": [text]}, handled="😀" not in text and "\U0010ffff" not in text)


@pytest.mark.parametrize("special", ['"', "\\", "\x00", "\x1f", "\n", "\x7f", "é"])
def test_an_escape_anywhere_in_a_long_string(special: str) -> None:
    # Long ASCII strings are scanned 8 bytes at a time: every position of a word counts.
    for at in range(40):
        text = "a" * at + special + "b" * (39 - at)
        assert_same_jcs(text, handled=True)
        assert_same_jcs({text: [text, text + special]}, handled=True)


@pytest.mark.parametrize("value", [0, 1, -1, MAX_SAFE, -MAX_SAFE, 42.0, -0.0, 0.0, float(MAX_SAFE), -float(MAX_SAFE),
                                   True, False, None, [], {}, [[[]]], {"a": {"b": {}}}])
def test_numbers_and_constants_it_writes(value: Any) -> None:
    assert_same_jcs(value, handled=True)
    assert_same_jcs({"v": value, "w": [value]}, handled=True)


@pytest.mark.parametrize("value", [
    MAX_SAFE + 1, -MAX_SAFE - 1, 2**64, -(2**100), 10**400, 1.5, 1e21, 1e-7, 2.0**53, 5e-324, float("nan"),
    float("inf"), -float("inf"), "\ud800", "a\udfffb", {"\ud800": 1}, {"😀": 1}, {"a": 1, "\U0001f600": 2},
    (1, 2), {1: "int key"}, b"bytes", msgspec.Raw(b"1"), type("S", (str,), {})("sub"), type("D", (dict,), {})(),
    type("I", (int,), {})(3), type("L", (list,), {})(), 1j, set(),
])
def test_what_it_leaves_to_python(value: Any) -> None:
    assert_same_jcs(value, handled=False)
    assert_same_jcs({"doc": [1, {"deep": value}]}, handled=False)


def test_nesting_beyond_its_depth_is_left_to_python() -> None:
    def nested(levels: int) -> Any:
        value: Any = "leaf"
        for n in range(levels):
            value = [value] if n % 2 else {"k": value}
        return value

    assert_same_jcs(nested(64), handled=True)
    assert_same_jcs(nested(66), handled=False)
    assert jcsproof.canonical(nested(100_000)) is None  # no recursion past its bound


def test_key_order_is_by_code_point_with_many_members() -> None:
    members = {f"{chr(0x20 + (n * 7919) % 0x7000)}{n}": n for n in range(500)}
    assert_same_jcs(members, handled=True)
    assert_same_jcs({"b": 1, "a": 2, "ab": 3, "": 4, "\x7f": 5, "é": 6, "\u0800": 7, "aa": 8}, handled=True)


json_leaves = (st.none() | st.booleans() | st.integers(min_value=-2**60, max_value=2**60)
               | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=5), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_gives_pythons_bytes_or_is_left_to_it(value: Any) -> None:
    assert_same_jcs(value)


plain_leaves = (st.none() | st.booleans() | st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE)
                | st.text(st.characters(exclude_categories=("Cs",)), max_size=12))
plain_values = st.recursive(plain_leaves, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=6), inner, max_size=5),
    max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(plain_values)
def test_plain_json_is_always_handled(value: Any) -> None:
    assert_same_jcs(value, handled=True)


# -- base58btc signatures --

def python_signature(text: Any) -> bytes | None:
    try:
        return multibase_decode(text, size=64)
    except ValueError:
        return None


@pytest.mark.parametrize("text", [
    multibase_encode(bytes(64)), multibase_encode(b"\xff" * 64), multibase_encode(bytes(63) + b"\x01"),
    multibase_encode(bytes(10) + b"\x80" * 54), "z" + "1" * 64, "z" + "1" * 63, "z" + "1" * 65,
    multibase_encode(bytes(63)), multibase_encode(bytes(65)), multibase_encode(b"\x01" + bytes(64)),
    multibase_encode(b"\xff" * 65), "z" + "z" * 88, "z" + "z" * 89, "z" + "2" * 200, "z", "", "z0OIl",
    "Z" + multibase_encode(bytes(64))[1:], multibase_encode(bytes(64))[1:], "z" + "é" * 80, "z1\x00", 5, None,
    "z" + multibase_encode(b"\xff" * 64)[1:-1] + "0",
])
def test_signatures_decode_as_multibase_does(text: Any) -> None:
    assert jcsproof.signature_from_multibase(text) == python_signature(text)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=64), st.binary(min_size=0, max_size=66))
def test_random_signatures_decode_as_multibase_does(zeros: int, tail: bytes) -> None:
    text = multibase_encode((bytes(zeros) + tail)[:66])
    assert jcsproof.signature_from_multibase(text) == python_signature(text)


@settings(max_examples=300, deadline=None)
@given(st.text(BASE58_ALPHABET + "0OIl", min_size=80, max_size=90))
def test_random_digits_decode_as_multibase_does(digits: str) -> None:
    assert jcsproof.signature_from_multibase("z" + digits) == python_signature("z" + digits)
    assert base58_encode(bytes(2)) == "11"


# -- a lone proof's hashes --

def signed(document: dict[str, Any]) -> dict[str, Any]:
    return eddsa_jcs.sign(document, KEY, "did:web:example.org#key-1", "2024-06-01T10:00:00Z")


def python_prepared(secured: dict[str, Any], proof_purpose: str = "assertionMethod") -> tuple[str, bytes, bytes] | None:
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    try:
        found = eddsa_jcs.prepare_proof(unsecured, secured["proof"], proof_purpose)
    except (ValueError, RecursionError):
        return None
    return None if found is None else (found.verification_method, found.hash_data, found.signature)


def native_prepared(secured: dict[str, Any], proof_purpose: str = "assertionMethod") -> tuple[str, bytes, bytes] | None:
    return eddsa_jcs.prepare_native(secured, secured["proof"], proof_purpose)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "proof"), json_values, max_size=6))
def test_prepare_jcs_gives_prepare_proofs_bytes(members: dict[str, Any]) -> None:
    document = {"@context": ["https://www.w3.org/ns/credentials/v2"], **members}
    try:
        secured = signed(document)
    except (ValueError, TypeError, RecursionError):
        secured = {**document, "proof": signed({})["proof"]}  # unsignable content: a proof of something else
    native = native_prepared(secured)
    assert native is None or native == python_prepared(secured)
    if jcsproof.canonical(secured) is not None:
        assert native == python_prepared(secured)


def test_prepare_jcs_swaps_the_context_and_leaves_doubtful_proofs_to_python() -> None:
    secured = signed({"@context": ["https://www.w3.org/ns/credentials/v2"], "name": "x"})
    extended = {**secured, "@context": [*secured["@context"], "https://example.org/more"]}
    assert native_prepared(extended) == python_prepared(secured)
    assert native_prepared(secured) == python_prepared(secured)
    bare = signed({"name": "x"})
    assert native_prepared(bare) == python_prepared(bare)
    one_context = signed({"@context": "https://www.w3.org/ns/credentials/v2", "name": "x"})
    assert native_prepared(one_context) == python_prepared(one_context)
    proof = secured["proof"]
    doubtful: list[dict[str, Any]] = [
        {k: v for k, v in secured.items() if k != "@context"},  # Python would add the member
        {**secured, "@context": ["https://example.org/other"]},  # not extended: Python refuses it
        {**secured, "@context": [{"inline": "context"}]}, {**secured, "@context": 5},
        {**secured, "proof": {**proof, "@context": [*proof["@context"], "https://example.org/more"]}},
        {**secured, "proof": {**proof, "@context": {"inline": 1}}},
        *({**secured, "proof": {**proof, "proofValue": value}}
          for value in ["z0OIl", "z" + "2" * 200, 5, multibase_encode(bytes(63)), None]),
        *({**secured, "proof": {**proof, name: value}} for name, value in [
            ("type", "Ed25519Signature2020"), ("cryptosuite", "eddsa-rdfc-2022"), ("proofPurpose", "authentication"),
            ("verificationMethod", 5), ("created", "yesterday"), ("created", "2024-02-30T00:00:00Z"), ("type", None)]),
        *({**secured, "proof": {k: v for k, v in proof.items() if k != name}}
          for name in ["proofValue", "type", "cryptosuite", "proofPurpose", "verificationMethod"]),
        {**secured, "proof": {k: v for k, v in proof.items() if k != "created"}},
    ]
    for document in doubtful:
        native = native_prepared(document)
        assert native is None or native == python_prepared(document), document
    assert native_prepared(doubtful[-1]) == python_prepared(doubtful[-1]) is not None  # no `created`: fine
    assert native_prepared(secured, "authentication") is None
    assert jcsproof.prepare_jcs(secured, "proof", "assertionMethod") is None
    with pytest.raises(TypeError):
        jcsproof.prepare_jcs(secured, proof)  # type: ignore[call-arg]


# -- libsodium --

def test_ed25519_verify_answers_as_the_ctypes_call() -> None:
    assert ed25519.verify is jcsproof.ed25519_verify
    public = raw_public_key(KEY)
    message = b"m" * 64
    signature = KEY.sign(message)
    cases = [(public, signature, message), (public, signature, message + b"!"), (public, bytes(64), message),
             (public, signature[:-1], message), (public[:-1], signature, message), (bytes(32), signature, message),
             (public, signature[:32] + b"\xff" * 32, message), (public, signature, b""),
             (b"\x01" + bytes(31), signature, message)]
    for case in cases:
        assert jcsproof.ed25519_verify(*case) == ed25519.ctypes_verify(*case), case
    assert jcsproof.ed25519_verify(public, signature, message)
    with pytest.raises(TypeError):
        jcsproof.ed25519_verify(public, signature, "text")  # type: ignore[arg-type]


# -- the service's answers, with and without the accelerator --

@pytest.fixture
def python_only(monkeypatch: pytest.MonkeyPatch) -> Any:
    def switch() -> None:
        monkeypatch.setattr(eddsa_jcs, "jcsproof", None)
        monkeypatch.setattr(documents, "jcsproof", None)
        monkeypatch.setattr(ed25519, "verify", ed25519.ctypes_verify)
        monkeypatch.setattr(jcs, "_plain_bytes", jcs._python_plain_bytes)
        monkeypatch.setattr(untrusted, "jcsproof", None)
    return switch


def hostile_items() -> list[Any]:
    """Foreign documents with what a hostile or odd client sends, signed (where
    JCS can represent them) so their signature check really runs."""
    _, issuers, _, _ = foreign_corpus.world()
    issuer = issuers[0]
    base = build_document(issuer, "ach-0", email="h@example.org", salt="s", credential_id="urn:uuid:h0000001")

    def changed(change: Any) -> dict[str, Any]:
        document = copy.deepcopy(base)
        change(document)
        try:
            return sign(issuer, document, "2024-06-01T10:00:00Z")
        except (ValueError, TypeError, RecursionError):
            return {**document, "proof": sign(issuer, base, "2024-06-01T10:00:00Z")["proof"]}

    deep: Any = "leaf"
    for _ in range(13):  # 26 levels: within the body's bound (32) with the document's own
        deep = {"k": [deep]}
    documents_ = [
        changed(lambda d: None),
        changed(lambda d: d.update(name="é€😀\u2028 \"quoted\" \\ \t\n control \x01")),
        changed(lambda d: d.update(credits=42.0, minus=-0.0, ratio=0.5, big=1e21)),
        changed(lambda d: d.update(count=MAX_SAFE, negative=-MAX_SAFE)),
        changed(lambda d: d.update(huge="HUGE_NUMBER")),
        changed(lambda d: d.update(lone="LONE_SURROGATE")),
        changed(lambda d: d.update({"😀key": 1, "\ue000": 2})),
        changed(lambda d: d.update(deep=deep)),
        changed(lambda d: d.update(empty={}, list=[], null=None, flags=[True, False])),
        changed(lambda d: d["proof"].update(extra="x") if "proof" in d else None),
    ]
    forged = copy.deepcopy(documents_[1])
    forged["name"] = "forged"
    documents_.append(forged)
    return [{"credential": d} for d in documents_] + [
        {"credential": d, "identity": {"type": "emailAddress", "value": "h@example.org"}} for d in documents_[:4]]


def hostile_bodies() -> list[bytes]:
    body = msgspec.json.encode({"items": hostile_items()})
    return [body, body.replace(b'"HUGE_NUMBER"', b"1" + b"0" * 30).replace(b'"LONE_SURROGATE"', b'"\\ud800x"'),
            body.replace(b'"HUGE_NUMBER"', b"9007199254740992").replace(b'"LONE_SURROGATE"', b'"\\udc00"'),
            body.replace(b'"HUGE_NUMBER"', b"-1e400"), body.replace(b'"LONE_SURROGATE"', b'"\\u0000"')]


def answers(body: bytes, model: Any) -> list[Any]:
    freshness = Freshness()
    freshness.caught_up.set()
    freshness.touch(model.position)
    verifier = BatchVerifier(model, freshness, ContextLoader("https://ledger.example"))
    try:
        entries, plain = asyncio.run(decode_items(body))
    except Exception as exc:  # noqa: BLE001 - a refusal is an answer too, compared as such
        return [type(exc).__name__, str(exc)]
    found: list[Any] = [plain]
    for now in NOW:
        found += verifier.run(entries, now=now, plain=plain).answers
        found += [verifier.run([entry], index, now=now).answers[0] for index, entry in enumerate(entries)]
    return found


def test_answers_are_the_same_with_and_without_it(python_only: Any) -> None:
    model, issuers, stranger, issued = foreign_corpus.world()
    bodies = [*hostile_bodies(), msgspec.json.encode({"items": foreign_corpus.items(issuers, stranger, issued)})]
    with_native = [answers(body, model) for body in bodies]
    # msgspec refuses a lone surrogate escape, and the body check a NUL: those bodies' refusals are compared.
    assert [len(found) > 2 for found in with_native] == [True, False, False, True, False, True]
    assert sum(b'"proof_verified"' in answer for answer in with_native[0][1:]) >= 3 * 8
    python_only()
    assert with_native == [answers(body, model) for body in bodies]
