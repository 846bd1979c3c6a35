"""The registry's rules as pure functions: no database, no HTTP.

Each check returns None when the rule holds, or a sentence saying what is
wrong, which the caller raises as the error the client reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from services.registry.views import FrameworkView
from shared.events import registry as ev

# A request may say "from now" a little early or late: clocks differ.
CLOCK_SKEW = dt.timedelta(minutes=5)
ALL_FIELDS = "*"


def describe_levels(levels: Sequence[int]) -> str:
    if not levels:
        return "every EQF level"
    ordered = sorted(levels)
    # Compared by count, not by building the range: the levels may be anything a request sent.
    if len(set(ordered)) == len(ordered) == ordered[-1] - ordered[0] + 1 > 2:
        return f"EQF levels {ordered[0]}-{ordered[-1]}"
    return "EQF level" + ("s " if len(ordered) > 1 else " ") + ", ".join(map(str, ordered))


def field_covered(code: str, fields: Sequence[str]) -> bool:
    """ISCED-F codes nest by prefix: broad "06" covers narrow "061" and detailed "0613"."""
    return ALL_FIELDS in fields or any(code.startswith(f) for f in fields)


def scope_problem(scope: ev.AccreditationScope) -> str | None:
    """Whether a scope is well-formed on its own."""
    bad_levels = [level for level in scope.eqf_levels if not 1 <= level <= 8]
    if bad_levels:
        return f"EQF levels are 1 to 8; {bad_levels} are not levels"
    if len(set(scope.eqf_levels)) != len(scope.eqf_levels):
        return "the scope lists an EQF level twice"
    if not scope.fields:
        return "the scope needs at least one field of education ('*' for every field)"
    bad_fields = [f for f in scope.fields if f != ALL_FIELDS and not (f.isdigit() and 2 <= len(f) <= 4)]
    if bad_fields:
        return f"fields are ISCED-F 2013 codes of 2 to 4 digits (e.g. '0613') or '*'; {bad_fields} are not"
    return None


def scope_excess(grant: ev.AccreditationScope, holder: ev.AccreditationScope) -> str | None:
    """What part of `grant` lies outside `holder`, the granting agency's own scope."""
    if holder.eqf_levels:
        extra = sorted(set(grant.eqf_levels) - set(holder.eqf_levels))
        if not grant.eqf_levels or extra:
            asked = describe_levels(extra or grant.eqf_levels)
            return f"it asks for {asked}, but the agency's own scope covers only {describe_levels(holder.eqf_levels)}"
    if ALL_FIELDS not in holder.fields:
        extra_fields = [f for f in grant.fields if f == ALL_FIELDS or not field_covered(f, holder.fields)]
        if extra_fields:
            return (f"it asks for fields {extra_fields}, but the agency's own scope covers only "
                    f"fields {list(holder.fields)}")
    if holder.frameworks:
        extra_frameworks = sorted(set(grant.frameworks) - set(holder.frameworks))
        if extra_frameworks:
            return (f"it names frameworks {extra_frameworks}, but the agency's own scope covers only "
                    f"{list(holder.frameworks)}")
    if grant.credit_bearing and not holder.credit_bearing:
        return "it allows credit-bearing awards, but the agency's own scope is not credit-bearing"
    return None


def window_problem(valid_from: dt.datetime, valid_until: dt.datetime | None, now: dt.datetime) -> str | None:
    if valid_from < now - CLOCK_SKEW:
        return "valid_from cannot be in the past: a window may not start before it was granted"
    if valid_until is not None and valid_until <= valid_from:
        return "valid_until must be after valid_from"
    return None


def jurisdiction_covers(jurisdiction: str, place: str) -> bool:
    """An agency of "BE" covers "BE" and "BE-VLG"; an agency of "BE-VLG" covers
    "BE-VLG", and issuers in country "BE" (an issuer records only its country)."""
    return place == jurisdiction or place.startswith(jurisdiction + "-") or jurisdiction.startswith(place + "-")


def coverage_problem(accreditation: ev.AccreditationScope, spec: ev.AchievementSpec) -> str | None:
    """Whether an accreditation's scope covers an achievement spec."""
    if accreditation.eqf_levels and spec.eqf_level not in accreditation.eqf_levels:
        return f"EQF level {spec.eqf_level} is outside its {describe_levels(accreditation.eqf_levels)}"
    if not field_covered(spec.field, accreditation.fields):
        return f"field {spec.field} is outside its fields {list(accreditation.fields)}"
    if accreditation.frameworks and spec.framework_id and spec.framework_id not in accreditation.frameworks:
        return f"framework {spec.framework_id!r} is outside its frameworks {list(accreditation.frameworks)}"
    if spec.credit_bearing and not accreditation.credit_bearing:
        return "the achievement is credit-bearing and the accreditation is not"
    return None


def spec_problem(spec: ev.AchievementSpec, issuer_country: str) -> str | None:
    """The EU micro-credential elements that must be present and sensible."""
    problems = [
        (not 1 <= spec.eqf_level <= 8, f"eqf_level must be 1 to 8, not {spec.eqf_level}"),
        (not (spec.field.isdigit() and 2 <= len(spec.field) <= 4),
         f"field must be an ISCED-F 2013 code of 2 to 4 digits, not {spec.field!r}"),
        (spec.country != issuer_country,
         f"country must be the awarding issuer's country {issuer_country}, not {spec.country}"),
        (not spec.title.strip() or not spec.description.strip() or not spec.criteria.strip(),
         "title, description and criteria must not be empty"),
        (not any(o.strip() for o in spec.learning_outcomes), "at least one learning outcome is required"),
        (not ((spec.workload.ects or 0) > 0 or (spec.workload.hours or 0) > 0),
         "the notional workload needs ECTS credits or hours greater than zero"),
        (spec.validity_days is not None and spec.validity_days <= 0, "validity_days must be positive"),
        (any(not s.uri.startswith(("http://", "https://")) for s in spec.skills),
         "each skill needs an http(s) URI (ESCO or another framework)"),
    ]
    return next((message for failed, message in problems if failed), None)


def framework_level_problem(spec: ev.AchievementSpec, framework: FrameworkView | None) -> str | None:
    if spec.framework_id is None:
        return "level_code needs a framework_id" if spec.level_code else None
    if framework is None:
        return f"there is no framework {spec.framework_id!r}"
    if spec.level_code is None:
        return None
    level = next((lv for lv in framework.levels if lv.code == spec.level_code), None)
    if level is None:
        return f"framework {framework.framework_id!r} has no level {spec.level_code!r}"
    if level.eqf_level is not None and level.eqf_level != spec.eqf_level:
        return (f"level {spec.level_code!r} of framework {framework.framework_id!r} maps to EQF "
                f"{level.eqf_level}, but the spec says EQF {spec.eqf_level}")
    return None


def framework_problem(
    levels: Sequence[ev.FrameworkLevel], hours_per_credit: float | None, credit_system: str
) -> str | None:
    codes = [level.code for level in levels]
    if len(set(codes)) != len(codes):
        return "level codes must be unique within a framework"
    if any(level.eqf_level is not None and not 1 <= level.eqf_level <= 8 for level in levels):
        return "a level's eqf_level mapping must be 1 to 8"
    if credit_system != "notional_hours" and hours_per_credit is None:
        return f"a {credit_system} framework needs hours_per_credit (e.g. 25 to 30 for ECTS)"
    return None


def pathway_components(rule: ev.PathwayRule) -> list[str]:
    return [*rule.required, *(a for group in rule.choices for a in group.of)]


def pathway_rule_problem(rule: ev.PathwayRule, award_id: str) -> str | None:
    components = pathway_components(rule)
    problems = [
        (not components, "a pathway needs components: required achievements or choice groups"),
        (len(set(components)) != len(components), "an achievement appears twice among the components"),
        (award_id in components, "the award cannot be one of its own components"),
        (any(not 1 <= g.k <= len(g.of) for g in rule.choices),
         "each choice group needs 1 <= k <= the number of achievements it lists"),
        (rule.min_credits < 0, "min_credits cannot be negative"),
        (rule.min_eqf_level is not None and not 1 <= rule.min_eqf_level <= 8, "min_eqf_level must be 1 to 8"),
        (rule.max_component_age_days is not None and rule.max_component_age_days <= 0,
         "max_component_age_days must be positive"),
    ]
    return next((message for failed, message in problems if failed), None)
