"""The page a badge link opens, in words: what the template needs from a
`BadgePage` (badge.py), the preview tags' values and the badge image.

Every value comes from issuers and agencies, so the template escapes
everything (Jinja2 autoescape) and the JSON-LD block is encoded so that no
value can close its <script> element.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from services.verification.badge import HEADLINES, TOOLS, BadgePage, json_ld
from services.verification.model import CredentialRecord, ReadModel
from shared.badge_image import BadgeText, badge_png

__all__ = ["HEADLINES", "explain", "page_context", "badge_image"]
_DESCRIPTION_LENGTH = 200


def explain(check: str, reason: str, detail: str) -> str:
    """One check that did not pass, in words (the results CSV of jobs)."""
    text = f"{check.replace('_', ' ')}: {reason.replace('_', ' ')}"
    return f"{text} ({detail})" if detail else text


def script_safe_json(value: Any) -> str:
    """JSON for inside a <script> data block: `<`, `>` and `&` as \\u escapes,
    so a value holding `</script>` stays data."""
    text = msgspec.json.encode(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0].upper() for w in words[:2]) or "?"


def _description(page: BadgePage) -> str:
    spec = page.achievement.spec if page.achievement else None
    facts = [f"{page.title}, issued by {page.issuer_name}"]
    if spec:
        facts.append(f"EQF level {spec.eqf_level}")
        if spec.workload.ects:
            facts.append(f"{spec.workload.ects:g} ECTS")
    text = ". ".join([", ".join(facts), HEADLINES[page.verdict]]) + "."
    return text if len(text) <= _DESCRIPTION_LENGTH else text[:_DESCRIPTION_LENGTH - 1] + "…"


def page_context(page: BadgePage, base_url: str, path: str, *, private: bool) -> dict[str, Any]:
    base = base_url.rstrip("/")
    # Under the share link's path when opened through one: a private credential's image is private too.
    image_path = f"{path.rstrip('/')}/badge.png"
    return {
        "page": page, "description": _description(page), "canonical": base + path, "image_path": image_path,
        "image_url": base + image_path, "json_ld": script_safe_json(json_ld(page, base)),
        "initials": _initials(page.issuer_name), "tools": TOOLS, "private": private,
    }


def badge_image(model: ReadModel, record: CredentialRecord) -> tuple[bytes, str]:
    """The achievement's uploaded image, else the generated round badge (PNG,
    which link previews accept where they refuse SVG)."""
    achievement = model.registry.achievements.get(record.achievement_id)
    uploaded = achievement.image if achievement else None
    if uploaded is not None:
        return uploaded.content, uploaded.media_type
    title = achievement.spec.title if achievement else record.achievement_id
    level = f"EQF level {achievement.spec.eqf_level}" if achievement else ""
    return _generated(BadgeText(title=title, level=level, issuer=model.issuer_name(record.issuer_id))), "image/png"


@functools.lru_cache(maxsize=256)
def _generated(text: BadgeText) -> bytes:
    # A few achievements serve every page: draw each once.
    return badge_png(text)
