"""The bulk job parsers take any bytes: each line gives an item or a
per-line problem, and verifying what they give never raises either.

Property tests (hypothesis) over arbitrary bytes and over JSON-shaped
inputs, plus the lines that used to kill the job worker (issue 13)."""

from __future__ import annotations

import json

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.verification.batch import BatchVerifier
from services.verification.freshness import Freshness
from services.verification.job_formats import KNOWN_COLUMNS, header_columns, parse_csv, parse_lines, parse_ndjson
from services.verification.model import ReadModel
from services.verification.schemas import ItemProblem, ItemResult, VerificationItem
from shared.crypto.multibase import b64url_encode
from shared.jsonld.contexts import ContextLoader

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
lines = st.binary(max_size=400).map(lambda raw: raw.replace(b"\n", b""))
column_sets = st.lists(st.sampled_from(sorted(KNOWN_COLUMNS)), min_size=1, max_size=4, unique=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
item_like = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=40) | st.integers(), "jwt": st.text(max_size=40), "credential": json_values,
    "identity": st.fixed_dictionaries({"type": st.sampled_from(["emailAddress", "nationalIdentityNumber", "x"]),
                                       "value": st.text(max_size=20)}),
})


def verify_all(entries) -> list[ItemResult]:
    verifier = BatchVerifier(ReadModel(), Freshness(), ContextLoader("https://ledger.example"))
    outcome = verifier.run(entries)
    assert len(outcome.answers) == len(entries)
    return [msgspec.json.decode(answer, type=ItemResult) for answer in outcome.answers]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def jwt_with_payload(payload: bytes) -> str:
    header = b64url_encode(json.dumps({"alg": "EdDSA", "typ": "vc+jwt", "kid": "did:key:z6Mk"}).encode())
    return f"{header}.{b64url_encode(payload)}.{b64url_encode(b'0' * 64)}"


@FUZZ
@given(lines)
def test_any_ndjson_line_is_an_item_or_a_problem(line):
    entry = parse_ndjson(line)
    assert isinstance(entry, VerificationItem | ItemProblem)
    [result] = verify_all([entry])
    assert result.verdict in ("valid", "invalid", "unknown")


@FUZZ
@given(item_like)
def test_json_shaped_ndjson_lines_verify_without_raising(item):
    entry = parse_ndjson(json.dumps(item).encode())
    [result] = verify_all([entry])
    assert result.index == 0


@FUZZ
@given(lines, column_sets)
def test_any_csv_row_is_an_item_or_a_problem(line, columns):
    assert isinstance(parse_csv(line, columns), VerificationItem | ItemProblem)
    assert header_columns(line) is None or set(header_columns(line)) <= KNOWN_COLUMNS
    verify_all([parse_csv(line, columns)])


@FUZZ
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_any_jwt_header_and_payload_verify_without_raising(header, payload):
    token = f"{b64url_encode(header)}.{b64url_encode(payload)}.{b64url_encode(b'1' * 64)}"
    [result] = verify_all([parse_csv(token.encode(), ["jwt"])])
    assert result.verdict in ("invalid", "unknown")


@FUZZ
@given(st.lists(lines, max_size=20), st.sampled_from(["csv", "ndjson"]))
def test_a_chunk_gives_one_answer_per_line_in_order(chunk, input_format):
    results = verify_all(parse_lines(chunk, input_format, ["credential", "email"]))
    assert [r.index for r in results] == list(range(len(chunk)))


def test_the_lines_that_killed_the_worker_are_per_line_problems():
    deep_ndjson = ('{"credential": ' + nested(1000) + "}").encode()
    deep_jwt = jwt_with_payload(('{"a": ' + nested(5000) + "}").encode())
    entries = [
        parse_ndjson(deep_ndjson),
        parse_ndjson(b'{"id":"\xff"}'),
        parse_csv(deep_jwt.encode(), ["jwt"]),
        parse_csv(b'"' + b"x" * 131_073 + b'",ada@example.org', ["credential", "email"]),
        parse_csv(b"\xff\xfe,ada@example.org", ["credential", "email"]),
    ]
    assert [e.status for e in entries if isinstance(e, ItemProblem)] == [400, 400, 400, 400]
    assert "nests deeper than" in entries[0].detail and "UTF-8" in entries[1].detail
    assert "131,072" in entries[3].detail and "UTF-8" in entries[4].detail
    results = verify_all(entries)
    assert [r.verdict for r in results] == ["unknown"] * 5
    assert "compact JWS" in results[2].problem.detail
    assert header_columns(b"x" * 131_073 + b",email") is None


def test_a_full_document_in_the_credential_column_is_a_document():
    document = {"id": "urn:uuid:8f2c2a1e-0000-4000-8000-000000000000", "issuer": "did:web:x", "proof": {}}
    cell = json.dumps(document).replace('"', '""')
    entry = parse_csv(f'"{cell}",ada@example.org'.encode(), ["credential", "email"])
    assert entry.credential == document and entry.identity.value == "ada@example.org"
    assert parse_csv(b'"{not json",x', ["credential", "email"]).status == 400


def test_malformed_ids_are_item_problems_and_unknown_uris_not_found():
    results = verify_all([VerificationItem(id="12345"), VerificationItem(id="urn:uuid:nope"),
                          VerificationItem(id="urn:uuid:8f2c2a1e-0000-4000-8000-000000000000")])
    assert [r.problem.status if r.problem else None for r in results] == [422, 422, None]
    assert "not a credential id" in results[0].problem.detail
