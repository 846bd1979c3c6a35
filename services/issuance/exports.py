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

from shared.badge_baking import bake_png, bake_svg
from shared.badge_image import BadgeText, badge_png, badge_svg
from shared.registry_state import RegistryState, UploadedImage

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


@dataclass(frozen=True)
class BadgeSource:
    """What a baked export is drawn from, read from the registry state up
    front so the drawing can run off the event loop on plain data."""

    uploaded: UploadedImage | None
    text: BadgeText


def badge_source(state: RegistryState, achievement_id: str, issuer_id: str) -> BadgeSource:
    achievement = state.achievements[achievement_id]
    issuer = state.issuers.get(issuer_id)
    text = BadgeText(title=achievement.spec.title, level=f"EQF level {achievement.spec.eqf_level}",
                     issuer=issuer.event.legal_name if issuer else issuer_id)
    return BadgeSource(achievement.image, text)


def baked_image(source: BadgeSource, form: str, credential: str) -> bytes:
    """The achievement's image with `credential` (JSON text) baked in."""
    uploaded = source.uploaded
    own = uploaded.content if uploaded is not None and uploaded.media_type == _MEDIA_TYPES[form] else None
    if form == "png":
        return bake_png(own or badge_png(source.text), credential)
    return bake_svg(own.decode() if own else badge_svg(source.text), credential).encode()


def media_type_of(form: str) -> str:
    return _MEDIA_TYPES[form]
