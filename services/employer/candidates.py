"""A recruiter's candidate file, read as it streams in.

The file is what a recruiter exports from an applicant system: a row per
candidate with their name, email and the credential they claim (a badge
link such as `https://.../verify/urn:uuid:...`, or the id itself). It is
read line by line, never whole, so its size does not matter: each line
becomes the candidate kept here (name and email stay with the employer)
and the line sent on to the verification service's job API, which needs
only the credential and the email to compare with the credential's salted
hash.

A header row, when there is one, names the columns in any order (`name`,
`email`, `credential` or one of its synonyms); without one, the columns
are name, email, credential.
"""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from shared.csv_safety import restore_cell
from shared.refusals import Invalid

NAME, EMAIL, CREDENTIAL = "name", "email", "credential"
DEFAULT_COLUMNS = (NAME, EMAIL, CREDENTIAL)
_SYNONYMS = {
    **dict.fromkeys(("name", "candidate", "full_name", "candidate_name"), NAME),
    **dict.fromkeys(("email", "e_mail", "email_address", "candidate_email"), EMAIL),
    **dict.fromkeys(("credential", "credential_id", "id", "link", "url", "credential_link", "credential_url",
                     "badge", "badge_link", "badge_url"), CREDENTIAL),
}
MAX_LINE_BYTES = 256 * 1024
MAX_ROWS = 1_000_000
# What the verification job receives: one credential and one email a line.
JOB_HEADER = b"credential,email\n"


@dataclass(frozen=True, slots=True)
class Candidate:
    row_no: int
    name: str
    email: str
    credential: str


def credential_of(cell: str) -> str:
    """The credential a cell names: a badge-page link becomes the id it shows;
    a JWT, a JSON document or an id is passed on as it is."""
    cell = cell.strip()
    if cell.startswith(("http://", "https://")):
        path = urlsplit(cell).path
        marker = "/verify/"
        if marker in path:
            return unquote(path.split(marker, 1)[1].rstrip("/"))
        if "/v1/credentials/" in path:
            return unquote(path.split("/v1/credentials/", 1)[1].split("/", 1)[0])
    return cell


def header_columns(cells: list[str]) -> list[str] | None:
    named = [_SYNONYMS.get(re.sub(r"[\s-]+", "_", c.strip().lstrip("\ufeff").lower())) for c in cells]
    if not any(named) or CREDENTIAL not in named:
        return None
    return [n or "" for n in named]


class CandidateReader:
    """Turns streamed bytes into candidates and job lines, one line at a time."""

    def __init__(self) -> None:
        self.columns: list[str] = list(DEFAULT_COLUMNS)
        self.rows = 0
        self._partial = b""
        self._first = True

    def feed(self, data: bytes) -> list[Candidate]:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            raise Invalid(f"a line of the file is longer than {MAX_LINE_BYTES // 1024} KiB", code="line-too-long")
        return [c for line in lines if (c := self._line(line)) is not None]

    def close(self) -> list[Candidate]:
        last = self._line(self._partial)
        self._partial = b""
        return [last] if last is not None else []

    def _line(self, raw: bytes) -> Candidate | None:
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise Invalid(f"line {self.rows + 2} is not UTF-8 text; save the file as CSV UTF-8",
                          code="not-utf8") from None
        if not text:
            return None
        cells = _cells(text, self.rows + 1)
        if self._first:
            self._first = False
            if (columns := header_columns(cells)) is not None:
                self.columns = columns
                return None
        self.rows += 1
        if self.rows > MAX_ROWS:
            raise Invalid(f"a file holds at most {MAX_ROWS:,} candidates; split it", code="too-many-rows")
        row = {name: restore_cell(cell.strip()) for name, cell in zip(self.columns, cells, strict=False) if name}
        return Candidate(self.rows - 1, row.get(NAME, ""), row.get(EMAIL, ""), row.get(CREDENTIAL, ""))


def _cells(text: str, line_no: int) -> list[str]:
    try:
        return next(csv.reader([text]), [])
    except csv.Error as exc:
        raise Invalid(f"line {line_no} is not valid CSV: {exc}", code="bad-csv") from None


def job_line(candidate: Candidate) -> bytes:
    """The candidate as the job API's CSV row: the credential and the email,
    verbatim (a machine reads it: no spreadsheet defusing)."""
    return (",".join(_quoted(c) for c in (credential_of(candidate.credential) or "-", candidate.email))
            + "\n").encode()


def _quoted(cell: str) -> str:
    cell = cell.replace("\r", " ").replace("\n", " ")
    return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in ',"') else cell


async def job_body(chunks: AsyncIterator[bytes], keep: Callable[[list[Candidate]], Awaitable[None]],
                   reader: CandidateReader) -> AsyncIterator[bytes]:
    """The verification job's upload, produced while the employer's file
    streams in; `keep` stores each piece's candidates before it is sent."""
    yield JOB_HEADER
    async for data in chunks:
        candidates = reader.feed(data)
        if candidates:
            await keep(candidates)
            yield b"".join(job_line(c) for c in candidates)
    candidates = reader.close()
    if candidates:
        await keep(candidates)
        yield b"".join(job_line(c) for c in candidates)
