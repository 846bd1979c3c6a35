"""The pages a browser gets when it opens a public id: one small page per
kind, facts only (shared/http/representation.py escapes every value)."""

from __future__ import annotations

from aiohttp import web

from services.registry import views as v
from shared.http.representation import Fact, html_page


def achievement_page(achievement: v.AchievementView, issuer: v.IssuerView, url: str) -> web.Response:
    spec = achievement.spec
    facts: list[Fact] = [
        ("Issuer", issuer.legal_name),
        ("Description", spec.description),
        ("Type", spec.achievement_type),
        ("EQF level", str(spec.eqf_level)),
        ("Field (ISCED-F)", spec.field),
        ("Language", spec.language),
        ("Workload", _workload(spec.workload)),
        ("Learning outcomes", spec.learning_outcomes),
        ("Criteria", spec.criteria),
        ("Assessment", spec.assessment_type),
        ("Participation", spec.participation_form),
        ("Quality assurance", spec.quality_assurance),
        ("Prerequisites", spec.prerequisites),
        ("Skills", [skill.name for skill in spec.skills]),
        ("Status", achievement.status),
    ]
    return html_page("Achievement", spec.title, facts, url)


def _workload(workload) -> str:
    parts = [f"{workload.ects:g} ECTS" if workload.ects is not None else "",
             f"{workload.hours:g} hours" if workload.hours is not None else ""]
    return ", ".join(p for p in parts if p) or "-"


def profile_page(issuer: v.IssuerView, url: str) -> web.Response:
    facts: list[Fact] = [
        ("DID", issuer.did),
        ("Country", issuer.country),
        ("Homepage", issuer.homepage or "-"),
        ("Accredited now", "yes" if issuer.accredited else "no"),
    ]
    return html_page("Issuer", issuer.legal_name, facts, url)


def framework_page(framework: v.FrameworkView, url: str) -> web.Response:
    levels = [f"{level.code}: {level.title}" + (f" (EQF {level.eqf_level})" if level.eqf_level else "")
              for level in framework.levels]
    facts: list[Fact] = [("Agency", framework.agency_id), ("Credit system", framework.credit_system),
                         ("Levels", levels)]
    return html_page("Qualifications framework", framework.name, facts, url)
