"""The rules of recognition agreements and framework referencing, as pure
functions: each returns None when the rule holds, or what is wrong."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from services.registry.rules import ALL_FIELDS, CLOCK_SKEW
from shared.events import recognition as rec

EQF_LEVELS = [str(level) for level in range(1, 9)]


def framework_codes(framework_id: str, published_codes: Sequence[str] | None) -> list[str] | None:
    """The level codes of a framework ("EQF" or a published one; None if unknown)."""
    return EQF_LEVELS if framework_id == rec.EQF else (list(published_codes) if published_codes is not None else None)


def match_problem(match: rec.CredentialMatch, codes: Sequence[str] | None) -> str | None:
    """`codes`: the level codes of match.framework_id, None when there is no such framework."""
    if match.achievement_id is None and not match.levels:
        return "match needs an achievement_id, or the levels (of framework_id) it admits"
    if codes is None:
        return f"there is no framework {match.framework_id!r}; name 'EQF' or a published framework"
    unknown = [level for level in match.levels if level not in codes]
    if unknown:
        return f"framework {match.framework_id!r} has no levels {unknown}; its levels are {list(codes)}"
    bad_fields = [f for f in match.fields if f == ALL_FIELDS or not (f.isdigit() and 2 <= len(f) <= 4)]
    if bad_fields:
        return f"fields are ISCED-F 2013 codes of 2 to 4 digits (e.g. '0613'); {bad_fields} are not"
    return None


def agreement_window_problem(valid_from: dt.datetime, valid_until: dt.datetime | None,
                             moment: dt.datetime) -> str | None:
    if valid_from < moment - CLOCK_SKEW:
        return "valid_from cannot be in the past: an agreement cannot admit what was claimed before it"
    if valid_until is not None and valid_until <= valid_from:
        return "valid_until must be after valid_from"
    return None


def referencing_problem(framework_id: str, own_codes: Sequence[str], target: str,
                        target_codes: Sequence[str] | None, mappings: Sequence[rec.LevelMapping]) -> str | None:
    if target == framework_id:
        return "a framework is referenced to the EQF or to another framework, not to itself"
    if target_codes is None:
        return f"there is no framework {target!r} to reference to; name 'EQF' or a published framework"
    codes = [m.level_code for m in mappings]
    if len(set(codes)) != len(codes):
        return "each level is mapped once"
    unknown = [code for code in codes if code not in own_codes]
    if unknown:
        return f"framework {framework_id!r} has no levels {unknown}"
    unmapped = [m.target_level for m in mappings if m.target_level not in target_codes]
    if unmapped:
        return f"{target} has no levels {unmapped}; its levels are {list(target_codes)}"
    return None
