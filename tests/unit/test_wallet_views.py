"""The wallet's view helpers: LinkedIn's certification link, share-link rules, progress."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from services.wallet.sharing import ShareLink, check_share
from services.wallet.views import linkedin_url, progress_percent, qr_svg
from shared.holdings import ChoiceView, HeldComponent, HeldCredential, PathwayView
from shared.refusals import Invalid

CREDENTIAL = HeldCredential(
    credential_id="urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", issuer_id="uni-1", issuer_name="University & Co",
    achievement_id="ach-1", title="Data Analysis with Python", valid_from="2026-03-15T10:00:00Z",
    valid_until="2029-03-15T00:00:00Z", status="active", holder_token="t")


def test_the_linkedin_link_fills_the_certification_form():
    url = linkedin_url(CREDENTIAL, "https://cred.example/verify/urn:uuid:0f8f")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com", "/profile/add")
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert fields == {
        "startTask": "CERTIFICATION_NAME", "name": "Data Analysis with Python", "organizationName": "University & Co",
        "issueYear": "2026", "issueMonth": "3", "certUrl": "https://cred.example/verify/urn:uuid:0f8f",
        "certId": "0f8fad5b-d9cb-469f-a165-70867728950e", "expirationYear": "2029", "expirationMonth": "3"}


def test_the_qr_code_is_an_svg_without_script_or_style():
    svg = qr_svg("https://cred.example/verify/x", "QR code")
    assert svg.startswith(b"<svg") and b"<script" not in svg and b"style=" not in svg and b"<title>QR code" in svg


@pytest.mark.parametrize(("name", "expires", "ok"), [
    ("ACME", None, True), ("  ACME   jobs ", dt.date(2026, 1, 2), True), ("", None, False),
    ("x" * 81, None, False), ("ACME", dt.date(2026, 1, 1), False), ("ACME", dt.date(2027, 1, 3), False),
])
def test_share_links_need_a_name_and_a_future_expiry_within_a_year(name, expires, ok):
    today = dt.date(2026, 1, 1)
    if ok:
        assert check_share(name, expires, today) == " ".join(name.split())
    else:
        with pytest.raises(Invalid):
            check_share(name, expires, today)


def test_a_share_link_is_active_until_expired_or_revoked():
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    link = ShareLink("s", "n", "u", moment, moment + dt.timedelta(days=1), None)
    assert link.state(moment) == "active" and link.state(moment + dt.timedelta(days=2)) == "expired"
    assert ShareLink("s", "n", "u", moment, None, moment).state(moment) == "revoked"


def component(held: bool, name: str = "a") -> HeldComponent:
    return HeldComponent(achievement_id=name, title=name, credential_id="c" if held else None)


def test_progress_counts_components_then_credits():
    by_components = PathwayView(
        pathway_id="p", title="P", issuer_name="U", award_title="A", required=[component(True), component(False)],
        choices=[ChoiceView(k=1, options=[component(True, "b"), component(True, "c")])],
        credits_held=5, credits_required=10, credits_needed=5, eligible=False)
    assert progress_percent(by_components) == 67
    by_credits = PathwayView(pathway_id="p", title="P", issuer_name="U", award_title="A", required=[],
                             credits_held=7.5, credits_required=10, credits_needed=2.5, eligible=False)
    assert progress_percent(by_credits) == 75
