"""Bulk job lines in and out: NDJSON or CSV items, NDJSON or CSV answers.

NDJSON lines are `VerificationItem`s. CSV rows name a credential (an id or a
compact JWS) and optionally the candidate's email or national id; a header
row names the columns (`id`/`credential_id`, `jwt`, `credential`, `email`,
`national_id`), and without one the columns are `credential,email`. Cells
spanning several lines are not supported: one row per line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import msgspec

from services.verification.batch import Entry, item_problem
from services.verification.schemas import Identity, ItemResult, VerificationItem

KNOWN_COLUMNS = {"id", "credential_id", "credential", "jwt", "email", "national_id"}
DEFAULT_COLUMNS = ("credential", "email")
CSV_RESULT_COLUMNS = ("index", "id", "verdict", "failed_checks", "unknown_checks", "title", "issuer",
                      "issued_on", "problem")
_ITEM = msgspec.json.Decoder(VerificationItem)
_RESULT = msgspec.json.Decoder(ItemResult)


def header_columns(first_line: bytes) -> list[str] | None:
    """The columns a CSV header row names, or None if the row is data."""
    cells = [c.strip().lower() for c in _csv_cells(first_line)]
    return cells if cells and all(c in KNOWN_COLUMNS for c in cells) else None


def parse_ndjson(line: bytes) -> Entry:
    try:
        return _ITEM.decode(line)
    except msgspec.ValidationError as exc:
        return item_problem(f"the line is not a verification item: {exc}")
    except msgspec.DecodeError as exc:
        return item_problem(f"the line is not valid JSON: {exc}", status=400)


def parse_csv(line: bytes, columns: list[str]) -> Entry:
    if b"," not in line and b'"' not in line and columns[0] in ("credential", "credential_id", "id"):
        # The common case, a bare list of ids: no CSV machinery needed.
        text = line.decode("utf-8-sig", errors="replace").strip()
        return VerificationItem(jwt=text) if _looks_like_jws(text) else VerificationItem(id=text)
    try:
        cells = _csv_cells(line)
    except (csv.Error, UnicodeDecodeError) as exc:
        return item_problem(f"the row is not valid CSV: {exc}", status=400)
    row = {name: cell.strip() for name, cell in zip(columns, cells) if cell.strip()}
    identity = (Identity("emailAddress", row["email"]) if "email" in row
                else Identity("nationalIdentityNumber", row["national_id"]) if "national_id" in row else None)
    if "jwt" in row:
        return VerificationItem(jwt=row["jwt"], identity=identity)
    credential = row.get("credential") or row.get("credential_id") or row.get("id")
    if credential is None:
        return item_problem(f"the row names no credential (columns: {', '.join(columns)})")
    if _looks_like_jws(credential):
        return VerificationItem(jwt=credential, identity=identity)
    return VerificationItem(id=credential, identity=identity)


def _looks_like_jws(value: str) -> bool:
    # Credential ids are URIs (urn:uuid:...); a compact JWS is three base64url parts.
    return value.count(".") == 2 and ":" not in value


def _csv_cells(line: bytes) -> list[str]:
    return next(csv.reader([line.decode("utf-8-sig")]), [])


def parse_lines(lines: Iterable[bytes], input_format: str, columns: list[str]) -> list[Entry]:
    if input_format == "csv":
        return [parse_csv(line, columns) for line in lines]
    return [parse_ndjson(line) for line in lines]


def csv_header() -> bytes:
    return _csv_row(CSV_RESULT_COLUMNS)


def ndjson_to_csv(ndjson: bytes) -> bytes:
    return b"".join(_csv_row(_result_cells(_RESULT.decode(line))) for line in ndjson.splitlines() if line)


def _result_cells(result: ItemResult) -> Iterator[str]:
    summary = result.summary
    yield str(result.index)
    yield result.id or ""
    yield result.verdict
    yield ";".join(f"{c.check}:{c.reason}" for c in result.checks if c.status == "fail")
    yield ";".join(f"{c.check}:{c.reason}" for c in result.checks if c.status == "unknown")
    yield summary.title if summary else ""
    yield summary.issuer if summary else ""
    yield summary.issued_on if summary else ""
    yield result.problem.detail if result.problem else ""


def _csv_row(cells: Iterable[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_defuse(c) for c in cells])
    return buffer.getvalue().encode()


def _defuse(cell: str) -> str:
    # Spreadsheet formula injection: a cell from a submitted document must
    # not run as a formula when a recruiter opens the CSV.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
