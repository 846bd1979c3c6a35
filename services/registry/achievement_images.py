"""An achievement's badge image: uploaded by its issuer, vetted, recorded as
an event, served on the public origin and baked into holders' exports.

Vetting is the point: the image is served from the platform's own origin
and embedded in credentials' achievements, so it must be a real PNG (chunk
stream and CRCs checked) or well-formed SVG with nothing that runs.
"""

from __future__ import annotations

import hashlib
import logging

import asyncpg

from services.registry import access, lookups
from services.registry import views as v
from services.registry.context import Caller, RegistryContext
from services.registry.lookups import QUERIES
from shared.badge_baking import BakingError, bake_svg, check_png, check_svg
from shared.events import registry as ev
from shared.events.registry import achievement_stream
from shared.ledger.eventstore.store import NewEvent
from shared.refusals import Conflict, Forbidden, Invalid, NotFound

MAX_IMAGE_BYTES = 256 * 1024
MEDIA_TYPES: tuple[ev.ImageMediaType, ...] = ("image/png", "image/svg+xml")

log = logging.getLogger(__name__)


def vet_image(media_type: str, content: bytes) -> None:
    if media_type not in MEDIA_TYPES:
        raise Invalid(f"a badge image is {' or '.join(MEDIA_TYPES)}, not {media_type or 'untyped'}")
    if not content:
        raise Invalid("the image is empty")
    if len(content) > MAX_IMAGE_BYTES:
        raise Invalid(f"the image is {len(content)} bytes; the limit is {MAX_IMAGE_BYTES}")
    try:
        if media_type == "image/png":
            check_png(content)
        else:
            check_svg(content)
            bake_svg(content.decode(), "{}")  # exports must be able to bake it
    except (BakingError, UnicodeDecodeError) as exc:
        raise Invalid(f"the image was refused: {exc}") from None


async def upload_image(
    ctx: RegistryContext, caller: Caller, achievement_id: str, media_type: str, content: bytes
) -> v.AchievementWritten:
    achievement = await lookups.achievement(ctx.pool, achievement_id)
    issuer = await access.calling_issuer(ctx.pool, caller, "upload a badge image")
    if issuer.issuer_id != achievement.issuer_id:
        raise Forbidden(f"achievement {achievement_id!r} belongs to issuer {achievement.issuer_id!r}")
    if achievement.status in ("rejected", "withdrawn"):
        raise Conflict(f"achievement {achievement_id!r} is {achievement.status}; its image can no longer change")
    try:
        vet_image(media_type, content)
    except Invalid as exc:
        log.info("badge image refused", extra={"achievement_id": achievement_id, "reason": exc.detail})
        raise
    event = ev.AchievementImageUploaded(
        achievement_id=achievement_id, media_type=media_type,  # type: ignore[arg-type]
        content=content, sha256=hashlib.sha256(content).hexdigest())
    stream = achievement_stream(achievement_id)
    positions = await ctx.write(caller, [NewEvent(stream, event)], {stream: achievement.version})
    return v.AchievementWritten(achievement=await lookups.achievement(ctx.pool, achievement_id), positions=positions)


async def image(db: asyncpg.Pool, achievement_id: str) -> asyncpg.Record:
    row = await db.fetchrow(QUERIES["achievement_image"], achievement_id)
    if row is None:
        raise NotFound(f"achievement {achievement_id!r} has no uploaded badge image")
    return row


async def has_image(db: asyncpg.Pool, achievement_id: str) -> bool:
    return bool(await db.fetchval(QUERIES["achievement_has_image"], achievement_id))
