"""Named SQL blocks, kept in .sql files beside the code that runs them.

A block starts with a `-- name: <identifier>` line and runs until the next
one. Keeping SQL in SQL files lets reviewers read (and psql run) the exact
statements, the way procrastinate does it.
"""

from __future__ import annotations

import re
from importlib import resources

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _NAME_LINE.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"duplicate query name {name!r}")
        queries[name] = body.strip()
    return queries


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    return parse_queries(resources.files(package).joinpath(filename).read_text("utf-8"))
