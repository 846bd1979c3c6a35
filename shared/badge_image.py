"""The badge image an achievement gets when its issuer uploaded none: a
round badge showing the title, the level and the issuer.

SVG is written directly (every text escaped). PNG is drawn with Pillow,
whose wheels bundle FreeType and a default font, so nothing else (no
SVG rasteriser, no system fonts) is needed.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from html import escape

from PIL import Image, ImageDraw, ImageFont

SIZE = 400
_TITLE_WIDTH = 22  # characters per line inside the badge
_TITLE_LINES = 3
_COLOURS = ("#1f5f99", "#2e7d4f", "#8a3b8f", "#a65a00", "#0f6f73", "#7a2e2e", "#3c4f8f", "#5d6b1f")


@dataclass(frozen=True)
class BadgeText:
    title: str
    level: str  # e.g. "EQF level 6"
    issuer: str

    def title_lines(self) -> list[str]:
        lines = textwrap.wrap(self.title, _TITLE_WIDTH) or [""]
        if len(lines) > _TITLE_LINES:
            lines = lines[:_TITLE_LINES]
            lines[-1] = lines[-1][:_TITLE_WIDTH - 1].rstrip() + "…"
        return lines

    def colour(self) -> str:
        # Stable per achievement title, so one achievement's badges match.
        return _COLOURS[sum(self.title.encode()) % len(_COLOURS)]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def badge_svg(text: BadgeText) -> str:
    lines = text.title_lines()
    first_y = 190 - (len(lines) - 1) * 15
    title = "".join(
        f'<text x="200" y="{first_y + 30 * n}" font-size="24" font-weight="bold">{escape(line)}</text>'
        for n, line in enumerate(lines))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}"'
        f' role="img" aria-label="{escape(text.title)}">'
        f'<title>{escape(text.title)}</title>'
        f'<circle cx="200" cy="200" r="190" fill="{text.colour()}"/>'
        '<circle cx="200" cy="200" r="170" fill="none" stroke="#ffffff" stroke-width="4"/>'
        '<g fill="#ffffff" text-anchor="middle" font-family="sans-serif">'
        f'<text x="200" y="110" font-size="20">{escape(text.level)}</text>{title}'
        f'<text x="200" y="300" font-size="16">{escape(_shorten(text.issuer, 34))}</text>'
        "</g></svg>"
    )


def badge_png(text: BadgeText) -> bytes:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, SIZE - 10, SIZE - 10), fill=text.colour())
    draw.ellipse((30, 30, SIZE - 30, SIZE - 30), outline="#ffffff", width=4)
    lines = text.title_lines()
    first_y = 190 - (len(lines) - 1) * 15
    _centred(draw, 110, text.level, 20)
    for n, line in enumerate(lines):
        _centred(draw, first_y + 30 * n, line, 24)
    _centred(draw, 300, _shorten(text.issuer, 34), 16)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _centred(draw: ImageDraw.ImageDraw, baseline: int, line: str, size: int) -> None:
    draw.text((SIZE / 2, baseline), line, fill="#ffffff", font=ImageFont.load_default(size=size), anchor="ms")
