"""What the wallet's pages show about a credential: plain domain code, no HTTP.

LinkedIn's "Add to profile" link (its documented certification form),
the QR code of the badge page (SVG, drawn here: nothing from a CDN), and
the words and styles for statuses and pathway progress.
"""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import urlencode

import segno

from shared.holdings import HeldCredential, PathwayView
from shared.timeutil import parse_time

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"
STATUS = {"active": ("Valid", "pill-ok"), "suspended": ("Suspended", "pill-warn"), "revoked": ("Revoked", "pill-bad")}
DOWNLOADS = (
    ("png", "Badge image (PNG, credential inside)"),
    ("svg", "Badge image (SVG, credential inside)"),
    ("json", "Open Badges 3.0 credential (JSON)"),
    ("jwt", "VC-JOSE credential (JWT)"),
)


def badge_url(verify_origin: str, credential_id: str) -> str:
    return f"{verify_origin}/verify/{credential_id}"


def linkedin_url(credential: HeldCredential, badge_page: str) -> str:
    issued = parse_time(credential.valid_from)
    fields = {
        "startTask": "CERTIFICATION_NAME", "name": credential.title, "organizationName": credential.issuer_name,
        "issueYear": issued.year, "issueMonth": issued.month, "certUrl": badge_page,
        "certId": credential.credential_id.removeprefix("urn:uuid:"),
    }
    if credential.valid_until:
        expires = parse_time(credential.valid_until)
        fields |= {"expirationYear": expires.year, "expirationMonth": expires.month}
    return f"{LINKEDIN_ADD}?{urlencode(fields)}"


def qr_svg(url: str, title: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, border=4, dark="#000", light="#fff",
                                    title=title, xmldecl=False, svgclass="qr-code")
    return out.getvalue()


def status_of(credential: HeldCredential) -> tuple[str, str]:
    return STATUS.get(credential.status, (credential.status.title(), "pill-warn"))


def day(text: str | None) -> str:
    return parse_time(text).strftime("%-d %B %Y") if text else ""


def parse_day(text: str) -> dt.date | None:
    """A form's date field (YYYY-MM-DD); empty means none, anything else is a ValueError."""
    return dt.date.fromisoformat(text) if text.strip() else None


def progress_percent(pathway: PathwayView) -> int:
    """Components held out of those named (credits when the pathway counts only credits)."""
    named = len(pathway.required) + sum(choice.k for choice in pathway.choices)
    if named:
        held = sum(1 for c in pathway.required if c.credential_id) + sum(
            min(choice.k, sum(1 for o in choice.options if o.credential_id)) for choice in pathway.choices)
        return round(100 * held / named)
    if pathway.credits_required:
        return min(100, round(100 * pathway.credits_held / pathway.credits_required))
    return 100 if pathway.awarded_credential_id else 0
