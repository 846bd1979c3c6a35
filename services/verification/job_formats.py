"""Bulk job lines in and out: NDJSON or CSV items, NDJSON or CSV answers.

NDJSON lines are `VerificationItem`s. CSV rows name a credential (an id, a
compact JWS or the full JSON document, quoted as CSV) and optionally the
candidate's email or national id; a header row names the columns
(`id`/`credential_id`, `jwt`, `credential`, `email`, `national_id`), and
without one the columns are `credential,email`. Cells spanning several
lines are not supported: one row per line.

Lines are untrusted bytes: whatever one holds (invalid UTF-8, JSON nested
thousands deep, a cell past the CSV reader's limit), parsing it gives an
item or a per-line problem, never an exception.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from services.verification.batch import Entry, item_problem
from services.verification.page import HEADLINES, explain
from services.verification.schemas import Identity, ItemResult, VerificationItem
from shared import untrusted
from shared.csv_safety import csv_row, csv_rows

KNOWN_COLUMNS = {"id", "credential_id", "credential", "jwt", "email", "national_id"}
DEFAULT_COLUMNS = ("credential", "email")
CSV_RESULT_COLUMNS = ("index", "id", "verdict", "failed_checks", "unknown_checks", "title", "issuer",
                      "issued_on", "problem", "explanation", "revocation_reason", "email", "national_id")
IDENTITY_COLUMNS = {"emailAddress": "email", "nationalIdentityNumber": "national_id"}
_RESULT = msgspec.json.Decoder(ItemResult)


def header_columns(first_line: bytes) -> list[str] | None:
    """The columns a CSV header row names, or None if the row is data (or unreadable)."""
    try:
        cells = [c.strip().lower() for c in _csv_cells(untrusted.text(first_line, "row"))]
    except (untrusted.UntrustedInput, csv.Error):
        return None
    return cells if cells and all(c in KNOWN_COLUMNS for c in cells) else None


def parse_ndjson(line: bytes) -> Entry:
    try:
        return untrusted.decode_json(line, VerificationItem, field="the line")
    except untrusted.UntrustedInput as exc:
        if exc.malformed:
            return item_problem(f"the line {exc.reason}", malformed=True)
        return item_problem(f"the line is not a verification item: {exc.reason}")


def parse_csv(line: bytes, columns: list[str]) -> Entry:
    try:
        text = untrusted.text(line, "row").removeprefix("\ufeff")
    except untrusted.UntrustedInput as exc:
        return item_problem(f"the row {exc.reason}", malformed=True)
    if "," not in text and '"' not in text and columns[0] in ("credential", "credential_id", "id"):
        # The common case, a bare list of ids: no CSV machinery needed.
        return _item(text.strip(), None)
    try:
        cells = _csv_cells(text)
    except csv.Error as exc:
        return item_problem(f"the row is not valid CSV: {_csv_error(exc)}", malformed=True)
    row = {name: cell.strip() for name, cell in zip(columns, cells, strict=False) if cell.strip()}
    identity = (Identity("emailAddress", row["email"]) if "email" in row
                else Identity("nationalIdentityNumber", row["national_id"]) if "national_id" in row else None)
    if "jwt" in row:
        return VerificationItem(jwt=row["jwt"], identity=identity)
    credential = row.get("credential") or row.get("credential_id") or row.get("id")
    if credential is None:
        return item_problem(f"the row names no credential (columns: {', '.join(columns)})")
    return _item(credential, identity)


def _item(credential: str, identity: Identity | None) -> Entry:
    """The item a `credential` cell means: a JSON document, a compact JWS or an id."""
    if credential.startswith("{"):
        try:
            document = untrusted.decode_json(credential.encode(), dict[str, Any], field="the credential")
        except untrusted.UntrustedInput as exc:
            return item_problem(f"the credential cell holds no JSON document: {exc.reason}",
                                malformed=exc.malformed)
        return VerificationItem(credential=document, identity=identity)
    if _looks_like_jws(credential):
        return VerificationItem(jwt=credential, identity=identity)
    return VerificationItem(id=credential, identity=identity)


def _looks_like_jws(value: str) -> bool:
    # Credential ids are URIs (urn:uuid:...); a compact JWS is three base64url parts.
    return value.count(".") == 2 and ":" not in value


def _csv_cells(text: str) -> list[str]:
    return next(csv.reader([text]), [])


def _csv_error(exc: csv.Error) -> str:
    limit = csv.field_size_limit()
    return f"a cell is longer than {limit:,} characters" if "field limit" in str(exc) else str(exc)


def parse_lines(lines: Iterable[bytes], input_format: str, columns: list[str]) -> list[Entry]:
    if input_format == "csv":
        return [parse_csv(line, columns) for line in lines]
    return [parse_ndjson(line) for line in lines]


def csv_header() -> bytes:
    return csv_row(CSV_RESULT_COLUMNS).encode()


def ndjson_to_csv(ndjson: bytes, inputs: list[Entry]) -> bytes:
    """The answers as CSV rows, each with the identity its input line gave (echoed as sent)."""
    results = [_RESULT.decode(line) for line in ndjson.splitlines() if line]
    return csv_rows(_result_cells(result, entry) for result, entry in zip(results, inputs, strict=True)).encode()


def _result_cells(result: ItemResult, entry: Entry) -> Iterator[str]:
    summary = result.summary
    identity = entry.identity if isinstance(entry, VerificationItem) else None
    sent = IDENTITY_COLUMNS[identity.type] if identity else ""
    not_passed = [c for c in result.checks if c.status != "pass"]
    status = next((c for c in not_passed if c.check == "status"), None)
    yield str(result.index)
    yield result.id or ""
    yield result.verdict
    yield ";".join(f"{c.check}:{c.reason}" for c in not_passed if c.status == "fail")
    yield ";".join(f"{c.check}:{c.reason}" for c in not_passed if c.status == "unknown")
    yield summary.title if summary else ""
    yield summary.issuer if summary else ""
    yield summary.issued_on if summary else ""
    yield result.problem.detail if result.problem else ""
    yield "; ".join(explain(c.check, c.reason, c.detail) for c in not_passed) or (
        result.problem.detail if result.problem else HEADLINES[result.verdict])
    yield status.detail if status else ""
    yield identity.value if sent == "email" else ""  # type: ignore[union-attr]
    yield identity.value if sent == "national_id" else ""  # type: ignore[union-attr]
