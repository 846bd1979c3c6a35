"""What a holder downloads: the credential as a `.json` file, as VC-JOSE,
or baked into its badge image (OB 3.0 baking, shared/badge_baking.py).

Filenames name the achievement and a short form of the credential id,
never the learner. The image is the achievement's uploaded one when its
kind matches (PNG for PNG, SVG for SVG), else the generated badge.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass

from services.issuance.badge_image import BadgeText, badge_png, badge_svg
from shared.badge_baking import bake_png, bake_svg
from shared.registry_state import RegistryState

EXPORT_FORMATS = ("json", "jwt", "png", "svg")
_MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
_SLUG_LENGTH = 48


@dataclass(frozen=True)
class Export:
    body: bytes
    media_type: str
    filename: str

    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.media_type, "Content-Disposition": f'attachment; filename="{self.filename}"',
                "Cache-Control": "private, no-store"}


def filename(title: str, credential_id: str, extension: str) -> str:
    """`<achievement-slug>-<first 8 hex digits of the id>.<extension>`, ASCII only."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:_SLUG_LENGTH].rstrip("-") or "credential"
    short_id = uuid.UUID(credential_id.removeprefix("urn:uuid:")).hex[:8]
    return f"{slug}-{short_id}.{extension}"


def baked_image(state: RegistryState, achievement_id: str, issuer_id: str, form: str, credential: str) -> bytes:
    """The achievement's image with `credential` (JSON text) baked in."""
    achievement = state.achievements[achievement_id]
    uploaded = achievement.image
    own = uploaded.content if uploaded is not None and uploaded.media_type == _MEDIA_TYPES[form] else None
    if form == "png":
        return bake_png(own or badge_png(_badge_text(state, achievement_id, issuer_id)), credential)
    image = own.decode() if own else badge_svg(_badge_text(state, achievement_id, issuer_id))
    return bake_svg(image, credential).encode()


def _badge_text(state: RegistryState, achievement_id: str, issuer_id: str) -> BadgeText:
    spec = state.achievements[achievement_id].spec
    issuer = state.issuers.get(issuer_id)
    return BadgeText(title=spec.title, level=f"EQF level {spec.eqf_level}",
                     issuer=issuer.event.legal_name if issuer else issuer_id)


def media_type_of(form: str) -> str:
    return _MEDIA_TYPES[form]
