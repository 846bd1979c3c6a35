"""DID documents and Open Badges achievements built from registry views."""

from __future__ import annotations

import datetime as dt

from services.registry import documents
from services.registry import views as v
from shared.crypto.did_key import did_key_from_public_key
from shared.crypto.multibase import multibase_to_public_key
from tests.support.world import sample_spec

UTC = dt.timezone.utc
DID = "did:web:registry.example:issuers:tud"
KEY_A = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
KEY_B = "z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf"


def issuer() -> v.IssuerView:
    return v.IssuerView(issuer_id="tud", legal_name="TU Dublin", country="IE", did=DID, homepage="https://tud.ie",
                        email="", identifiers=[], registered_by="qqi", accredited=True,
                        created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z", version=3)


def key_row(key_id, multibase, until=None, compromised=None) -> dict:
    return {"key_id": key_id, "public_key_multibase": multibase, "valid_until": until, "compromised_at": compromised}


def test_did_document_keeps_every_key_with_its_window():
    until = dt.datetime(2026, 3, 1, tzinfo=UTC)
    rows = [key_row("key-1", KEY_A, until=until), key_row("key-2", KEY_B, compromised=until)]
    document = documents.did_document(DID, rows)
    assert document["id"] == DID
    assert document["assertionMethod"] == [f"{DID}#key-1", f"{DID}#key-2"]
    first, second = document["verificationMethod"]
    assert first == {"id": f"{DID}#key-1", "type": "Multikey", "controller": DID, "publicKeyMultibase": KEY_A,
                     "expires": "2026-03-01T00:00:00Z"}
    assert second["revoked"] == "2026-03-01T00:00:00Z" and "expires" not in second
    assert document["alsoKnownAs"] == [did_key_from_public_key(multibase_to_public_key(k)) for k in (KEY_A, KEY_B)]


def test_achievement_maps_to_open_badges():
    achievement = v.AchievementView(
        achievement_id="ach-1", issuer_id="tud", status="approved", spec=sample_spec(image="https://img.example/a.png"),
        decided_by="qqi", decided_at="2026-01-02T00:00:00Z", status_reason="", created_at="2026-01-01T00:00:00Z",
        version=2)
    badge = documents.open_badges_achievement(achievement, issuer(), "https://registry.example/")
    assert badge["id"] == "https://registry.example/v1/achievements/ach-1"
    assert badge["@context"][1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/context")
    assert (badge["name"], badge["creditsAvailable"], badge["fieldOfStudy"]) == ("Data Analysis with Python", 5.0, "0613")
    assert badge["criteria"]["narrative"].startswith("Pass a supervised practical assessment.")
    assert badge["creator"] == {"id": DID, "type": ["Profile"], "name": "TU Dublin", "url": "https://tud.ie"}
    assert badge["image"] == {"id": "https://img.example/a.png", "type": "Image"}
    assert badge["alignment"][0]["targetUrl"] == "http://data.europa.eu/snb/eqf/6"
