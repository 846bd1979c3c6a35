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
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

RESULT_FIELDS = ["reference", "outcome", "credential_id", "position", "learner_hash", "learner_key", "holder_token",
                 "error"]
DONE = ("issued", "existing")
RETRIES = 5


class IssueError(Exception):
    """The run cannot go on (bad file, refused key, unreachable service)."""


def issue_csv(url: str, api_key: str, csv_path: Path, achievement_id: str, out_path: Path | None = None,
              batch_size: int = 1000, show_progress: bool = True) -> int:
    """Issue every row; 0 when all are issued (now or before), 1 if some were rejected."""
    out_path = out_path or csv_path.with_name(csv_path.name + ".results.csv")
    rows = read_rows(csv_path)
    done = previous_results(out_path)
    pending = [row for row in rows if row["reference"] not in done]
    rejected = 0
    with open(out_path, "w", newline="", encoding="utf-8") as out, \
            tqdm(total=len(rows), initial=len(rows) - len(pending), unit="cred", desc="issuing",
                 disable=not show_progress, file=sys.stderr) as bar:
        writer = csv.DictWriter(out, RESULT_FIELDS)
        writer.writeheader()
        writer.writerows(done.values())
        for chunk in chunks(pending, batch_size):
            results = send_batch(url, api_key, [to_item(row, achievement_id) for row in chunk])
            writer.writerows(results)
            out.flush()
            rejected += sum(1 for r in results if r["outcome"] == "rejected")
            bar.update(len(chunk))
    print(f"{len(rows) - rejected} of {len(rows)} rows issued ({len(done)} skipped as done before);"
          f" results in {out_path}")
    return 1 if rejected else 0


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower() for name in reader.fieldnames or ()}
        if "reference" not in columns or not columns & {"email", "national_id"}:
            raise IssueError(f"{csv_path} needs a header with 'reference' and 'email' or 'national_id'")
        rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    blank = [n for n, row in enumerate(rows, start=2) if not row.get("reference")]
    if blank:
        raise IssueError(f"rows without a reference (lines {', '.join(map(str, blank[:10]))}):"
                         " every row needs one, it is what makes a re-run safe")
    return rows


def previous_results(out_path: Path) -> dict[str, dict[str, str]]:
    """Rows a previous run issued, by reference; failed rows are tried again."""
    if not out_path.exists():
        return {}
    with open(out_path, newline="", encoding="utf-8") as handle:
        return {row["reference"]: row for row in csv.DictReader(handle)
                if row.get("outcome") in DONE and row.get("credential_id")}


def chunks(rows: list[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def to_item(row: dict[str, str], achievement_id: str) -> dict[str, object]:
    learner = {k: row[k] for k in ("email", "national_id") if row.get(k)}
    item: dict[str, object] = {"reference": row["reference"], "achievement_id": achievement_id, "learner": learner}
    item.update({k: row[k] for k in ("issued_on", "valid_until", "grade") if row.get(k)})
    evidence = {k: row[f"evidence_{k}"] for k in ("url", "narrative", "genre") if row.get(f"evidence_{k}")}
    if evidence:
        item["evidence"] = [evidence]
    return item


def send_batch(url: str, api_key: str, items: list[dict[str, object]]) -> list[dict[str, str]]:
    response = post_json(f"{url.rstrip('/')}/v1/credentials/batch", api_key, {"items": items})
    return [{
        "reference": outcome["reference"], "outcome": outcome["outcome"],
        "credential_id": outcome.get("credential_id", ""), "position": str(outcome.get("position", "")),
        "learner_hash": outcome.get("learner_hash", ""), "learner_key": outcome.get("learner_key", ""),
        "holder_token": outcome.get("holder_token", ""),
        "error": (outcome.get("problem") or {}).get("detail", ""),
    } for outcome in response["items"]]


def post_json(url: str, api_key: str, body: object) -> dict:
    """POST with retries on connection trouble and 5xx (safe: references make
    a re-sent batch issue nothing twice); a 4xx ends the run with its detail."""
    data = json.dumps(body).encode()
    for attempt in range(RETRIES):
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code < 500:
                problem = json.loads(error.read() or b"{}")
                raise IssueError(f"the service refused the batch ({error.code}): "
                                 f"{problem.get('detail') or problem.get('title') or error.reason}") from None
            reason = f"HTTP {error.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = str(error)
        time.sleep(min(2 ** attempt, 10))
    raise IssueError(f"the service at {url} did not answer after {RETRIES} tries: {reason}")


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
