"""Recognition agreements and framework referencing, as the services hold
them in memory (part of shared/registry_state.py's RegistryState).

Framework referencing answers "at which level of framework T is a
credential of level L in framework F?": directly when F's agency published
a referencing to T, else through the EQF (F to EQF, then the levels of T
that T's own referencing maps to that EQF level). The newest referencing
published at or before the moment asked about is the one that counts, so a
claim is judged by the referencing in force when it was made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.events import recognition as rec
from shared.events import registry as ev
from shared.timeutil import parse_time

EQF = rec.EQF


@dataclass
class Agreement:
    event: rec.RecognitionAgreementDeclared
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    revocation: rec.RecognitionAgreementRevoked | None = None

    @property
    def agreement_id(self) -> str:
        return self.event.agreement_id

    @property
    def status(self) -> str:
        return "revoked" if self.revocation is not None else "declared"

    def in_force_at(self, moment: dt.datetime) -> bool:
        if moment < self.valid_from or (self.valid_until is not None and moment >= self.valid_until):
            return False
        return self.revocation is None or moment < parse_time(self.revocation.at)


@dataclass
class Referencing:
    """Every published version of one framework's referencing, oldest first."""

    versions: list[rec.FrameworkReferenced] = field(default_factory=list)

    def at(self, target: str, moment: dt.datetime | None) -> dict[str, str] | None:
        """level code -> target level, of the newest version to `target` published by `moment`."""
        found = None
        for version in self.versions:
            if version.target_framework_id == target and (moment is None or parse_time(version.at) <= moment):
                found = version
        return {m.level_code: m.target_level for m in found.mappings} if found else None


class Recognitions:
    def __init__(self) -> None:
        self.agreements: dict[str, Agreement] = {}
        self.referencing: dict[str, Referencing] = {}

    def declared(self, e: rec.RecognitionAgreementDeclared) -> None:
        self.agreements[e.agreement_id] = Agreement(
            e, parse_time(e.valid_from), parse_time(e.valid_until) if e.valid_until else None)

    def revoked(self, e: rec.RecognitionAgreementRevoked) -> None:
        self.agreements[e.agreement_id].revocation = e

    def referenced(self, e: rec.FrameworkReferenced) -> None:
        self.referencing.setdefault(e.framework_id, Referencing()).versions.append(e)

    def mapping(self, framework_id: str, target: str, moment: dt.datetime | None) -> dict[str, str] | None:
        referencing = self.referencing.get(framework_id)
        return referencing.at(target, moment) if referencing else None


def own_level(spec: ev.AchievementSpec) -> tuple[str, str]:
    """(framework, level code) the achievement states: its national level, else its EQF level."""
    if spec.framework_id and spec.level_code:
        return spec.framework_id, spec.level_code
    return EQF, str(spec.eqf_level)


def eqf_level_of(
    spec: ev.AchievementSpec, recognitions: Recognitions, frameworks: Mapping[str, ev.FrameworkPublished],
    moment: dt.datetime | None,
) -> str | None:
    """The EQF level of an achievement: as its framework is referenced, else
    as the framework's published levels map it, else the spec's own."""
    framework_id, code = own_level(spec)
    if framework_id == EQF:
        return code
    referenced = recognitions.mapping(framework_id, EQF, moment)
    if referenced is not None:
        return referenced.get(code)
    published = frameworks.get(framework_id)
    level = next((lv for lv in published.levels if lv.code == code), None) if published else None
    if level is not None and level.eqf_level is not None:
        return str(level.eqf_level)
    return str(spec.eqf_level)


def levels_in(
    target: str, spec: ev.AchievementSpec, recognitions: Recognitions,
    frameworks: Mapping[str, ev.FrameworkPublished], moment: dt.datetime | None,
) -> set[str]:
    """The levels of framework `target` an achievement corresponds to (empty if none is known)."""
    framework_id, code = own_level(spec)
    if framework_id == target:
        return {code}
    direct = recognitions.mapping(framework_id, target, moment)
    if direct is not None and code in direct:
        return {direct[code]}
    eqf = eqf_level_of(spec, recognitions, frameworks, moment)
    if eqf is None:
        return set()
    if target == EQF:
        return {eqf}
    back = recognitions.mapping(target, EQF, moment)
    if back is None:
        published = frameworks.get(target)
        back = {lv.code: str(lv.eqf_level) for lv in published.levels if lv.eqf_level} if published else {}
    return {level for level, mapped in back.items() if mapped == eqf}
