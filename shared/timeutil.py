"""RFC 3339 timestamps, the one time format of events and APIs."""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def format_time(moment: dt.datetime) -> str:
    """UTC with a 'Z' and at most second precision, as credentials use."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime:
    """Parse an RFC 3339 date-time; a value without an offset is rejected."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset")
    return moment.astimezone(UTC)
