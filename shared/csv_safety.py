"""CSV cells that a spreadsheet will not run (OWASP "CSV injection").

Every CSV this platform writes for people to open (verification results from
the service, the `credledger issue` and `credledger verify` results files)
holds values that came from outside: references, documents' titles, problem
details that quote the input. A cell starting with `=`, `+`, `-` or `@` is
a formula to Excel, LibreOffice and Google Sheets, and a leading TAB or CR
is stripped by some of them before that decision, so all six get a leading
apostrophe: the cell then shows as text, exactly as sent. A value that
itself starts with an apostrophe gets one more, so that `restore_cell`
gives back exactly what was defused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*FORMULA_STARTS, "'")


def defuse_cell(value: str) -> str:
    return "'" + value if value.startswith(_ESCAPED_STARTS) else value


def restore_cell(value: str) -> str:
    """The value `defuse_cell` was given (for reading back a file we wrote)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_ESCAPED_STARTS) else value


def csv_rows(rows: Iterable[Iterable[str]]) -> str:
    """CSV records of defused cells, each ending in CRLF (RFC 4180).

    With CRLF as the terminator the writer quotes any cell holding a CR or
    LF; with a bare LF, a CR inside a cell would go out unquoted and split
    the record for every reader.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([defuse_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def csv_row(cells: Iterable[str]) -> str:
    return csv_rows([cells])
