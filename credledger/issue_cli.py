"""`credledger issue --csv FILE --achievement ID`: issue a registrar's CSV.

Columns (a header row names them; order does not matter):

    reference            required: the student-system record id, unique per issuer
    email | national_id  exactly one per row: the learner
    issued_on            YYYY-MM-DD or an RFC 3339 date-time (default: now)
    valid_until          the same (default: the achievement's validity, if any)
    grade                optional
    evidence_url, evidence_narrative, evidence_genre   optional, one evidence item

Rows go to the issuance service's batch endpoint, `--batch-size` at a time.
Each row's result is appended to the results file (default FILE.results.csv)
as soon as its batch is answered: reference, outcome (issued, existing or
rejected), credential_id, position, learner_hash, learner_key (for
/v1/learners/{learner_key}/pathways), holder_token, error.

Resumable: a re-run skips rows whose reference already has a credential id in
the results file, and re-sends the rest. A batch that was issued but whose
results were never written (a crash, a lost connection) is safe to re-send:
the service answers references it knows with the credential already issued.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from shared.csv_safety import defuse_cell, restore_cell

RESULT_FIELDS = ["reference", "outcome", "credential_id", "position", "learner_hash", "learner_key", "holder_token",
                 "error"]
DONE = ("issued", "existing")
RETRIES = 5


class IssueError(Exception):
    """The run cannot go on (bad file, refused key, unreachable service)."""


def issue_csv(url: str, api_key: str, csv_path: Path, achievement_id: str, out_path: Path | None = None,
              batch_size: int = 1000, show_progress: bool = True) -> int:
    """Issue every row; 0 when all are issued (now or before), 1 if some were rejected.

    The file is read twice, row by row, never whole: once to check it (so a
    bad row stops the run before anything is issued), once to send it.
    """
    out_path = out_path or csv_path.with_name(csv_path.name + ".results.csv")
    total = check_rows(csv_path)
    done = previous_results(out_path)
    pending = (row for row in read_rows(csv_path) if row["reference"] not in done)
    with ResultsFile(out_path, total, done, show_progress, "issuing") as results:
        for chunk in batches(pending, batch_size):
            results.add(send_batch(url, api_key, [to_item(row, achievement_id) for row in chunk]))
    return results.summary()


class ResultsFile:
    """The results file and the progress bar: rows done before first, then
    each result as it comes, defused and flushed, so a crash loses no written
    result and opening the file in a spreadsheet runs nothing."""

    def __init__(self, path: Path, total: int, done: dict[str, dict[str, str]], show_progress: bool,
                 desc: str) -> None:
        self.path, self.total, self.skipped = path, total, len(done)
        self.outcomes: Counter[str] = Counter()
        self._out = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        self._bar = tqdm(total=total, initial=len(done), unit="cred", desc=desc, disable=not show_progress,
                         file=sys.stderr)
        self._writer = csv.DictWriter(self._out, RESULT_FIELDS)
        self._writer.writeheader()
        write_results(self._writer, done.values())

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
        self._out.close()

    def add(self, results: list[dict[str, str]]) -> None:
        write_results(self._writer, results)
        self._out.flush()
        self.outcomes.update(result["outcome"] for result in results)
        self._bar.update(len(results))

    def summary(self) -> int:
        """Say what happened; 0 when every row is issued, 1 if some were rejected."""
        print(f"{self.total} rows: {self.outcomes['issued']} issued, {self.outcomes['existing']} already issued,"
              f" {self.outcomes['rejected']} rejected, {self.skipped} skipped as done in an earlier run;"
              f" results in {self.path}")
        return 1 if self.outcomes["rejected"] else 0


def write_results(writer: csv.DictWriter, results: Iterable[dict[str, str]]) -> None:
    # References and error details come from the registrar's file: defused,
    # so that opening the results in a spreadsheet runs nothing.
    writer.writerows({k: defuse_cell(v) for k, v in result.items()} for result in results)


def read_rows(csv_path: Path) -> Iterator[dict[str, str]]:
    """The rows, one at a time; IssueError (with the line) for anything unreadable."""
    with open(csv_path, "rb") as handle:
        reader = csv.DictReader(_text_lines(handle, csv_path))
        try:
            columns = {name.strip().lower() for name in reader.fieldnames or ()}
            if "reference" not in columns or not columns & {"email", "national_id"}:
                raise IssueError(f"{csv_path} needs a header with 'reference' and 'email' or 'national_id'")
            for row in reader:
                yield {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        except csv.Error as error:
            detail = (f"a cell is longer than {csv.field_size_limit():,} characters" if "field limit" in str(error)
                      else str(error))
            raise IssueError(f"{csv_path}, line {reader.line_num}: {detail}") from None


def _text_lines(handle: BinaryIO, csv_path: Path) -> Iterator[str]:
    # Decoded line by line (not in the text layer's 8 KiB blocks) so that a
    # bad byte is reported on its own line.
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise IssueError(f"{csv_path}, line {number}: not valid UTF-8;"
                             " save the file as UTF-8 (CSV UTF-8 in Excel)") from None


def check_rows(csv_path: Path) -> int:
    """How many rows the file holds, once every row is readable and has a reference."""
    total, blank = 0, []
    for total, row in enumerate(read_rows(csv_path), start=1):
        if not row.get("reference") and len(blank) < 10:
            blank.append(total + 1)
    if blank:
        raise IssueError(f"rows without a reference (lines {', '.join(map(str, blank))}):"
                         " every row needs one, it is what makes a re-run safe")
    return total


def previous_results(out_path: Path) -> dict[str, dict[str, str]]:
    """Rows a previous run issued, by reference; failed rows are tried again."""
    if not out_path.exists():
        return {}
    try:
        with open(out_path, newline="", encoding="utf-8") as handle:
            rows = ({k: restore_cell(v or "") for k, v in row.items() if k} for row in csv.DictReader(handle))
            return {row["reference"]: row for row in rows
                    if row.get("outcome") in DONE and row.get("credential_id") and row.get("reference")}
    except (UnicodeDecodeError, csv.Error) as error:
        raise IssueError(f"the results file {out_path} cannot be read ({error}); move it away to start afresh") \
            from None


def batches(rows: Iterable[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def to_item(row: dict[str, str], achievement_id: str) -> dict[str, object]:
    learner = {k: row[k] for k in ("email", "national_id") if row.get(k)}
    item: dict[str, object] = {"reference": row["reference"], "achievement_id": achievement_id, "learner": learner}
    item.update({k: row[k] for k in ("issued_on", "valid_until", "grade") if row.get(k)})
    evidence = {k: row[f"evidence_{k}"] for k in ("url", "narrative", "genre") if row.get(f"evidence_{k}")}
    if evidence:
        item["evidence"] = [evidence]
    return item


def send_batch(url: str, api_key: str, items: list[dict[str, object]]) -> list[dict[str, str]]:
    response = call_json(f"{url.rstrip('/')}/v1/credentials/batch", api_key, {"items": items})
    return [result_row(outcome) for outcome in response["items"]]


def result_row(outcome: dict) -> dict[str, str]:
    """A results-file row from an item outcome (HTTP) or a command outcome (Kafka)."""
    return {
        "reference": outcome["reference"], "outcome": outcome["outcome"],
        "credential_id": outcome.get("credential_id", ""), "position": str(outcome.get("position", "")),
        "learner_hash": outcome.get("learner_hash", ""), "learner_key": outcome.get("learner_key", ""),
        "holder_token": outcome.get("holder_token", ""),
        "error": (outcome.get("problem") or {}).get("detail", ""),
    }


def call_json(url: str, api_key: str, body: object | None = None) -> dict:
    """POST `body` (GET without one) with retries on connection trouble and
    5xx (safe: references make a re-sent batch issue nothing twice); a 4xx
    ends the run with its detail."""
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(RETRIES):
        request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise IssueError(f"the service refused the request ({error.code}): {_problem_text(error)}") \
                    from None
            reason = f"HTTP {error.code}"
        except json.JSONDecodeError:
            raise IssueError(f"{url} did not answer with JSON; is --url the issuance service?") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = str(error)
        time.sleep(min(2 ** attempt, 10))
    raise IssueError(f"the service at {url} did not answer after {RETRIES} tries: {reason}")


def _problem_text(error: urllib.error.HTTPError) -> str:
    try:
        problem = json.loads(error.read() or b"{}")
    except ValueError:
        return str(error.reason)
    if not isinstance(problem, dict):
        return str(error.reason)
    return str(problem.get("detail") or problem.get("title") or error.reason)


def issue_command(url: str, api_key: str, csv_file: str, achievement_id: str, out: str | None,
                  batch_size: int) -> int:
    if not api_key:
        print("credledger issue: an issuer API key is needed (--api-key or CREDLEDGER_API_KEY)", file=sys.stderr)
        return 2
    try:
        return issue_csv(url, api_key, Path(csv_file), achievement_id, Path(out) if out else None,
                         batch_size, sys.stderr.isatty())
    except (IssueError, OSError) as error:
        print(f"credledger issue: {error}", file=sys.stderr)
        return 2
