"""DID documents, Open Badges achievements and frameworks built from registry views."""

from __future__ import annotations

import datetime as dt

from services.registry import documents
from services.registry import views as v
from shared.crypto.did_key import did_key_from_public_key
from shared.crypto.multibase import multibase_to_public_key
from shared.events import registry as ev
from shared.ob3_objects import achievement_object
from tests.support.world import sample_spec

UTC = dt.UTC
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


def test_achievement_document_is_the_embedded_object_with_context_and_creator():
    achievement = v.AchievementView(
        achievement_id="ach-1", issuer_id="tud", status="approved",
        spec=sample_spec(image="https://img.example/a.png", framework_id="nfq", level_code="L6"),
        decided_by="qqi", decided_at="2026-01-02T00:00:00Z", status_reason="", created_at="2026-01-01T00:00:00Z",
        version=2)
    framework = v.FrameworkView(
        framework_id="nfq", agency_id="qqi", name="NFQ", credit_system="ECTS", hours_per_credit=25.0,
        levels=[ev.FrameworkLevel(code="L6", title="Level 6", eqf_level=5)], created_at="2026-01-01T00:00:00Z",
        version=1)
    base = "https://registry.example/"
    badge = documents.achievement_document(achievement, issuer(), {"nfq": framework}, base)
    assert badge["@context"][1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/context")
    assert {k: val for k, val in badge.items() if k not in ("@context", "creator")} == achievement_object(
        achievement, {"nfq": framework}, base)
    assert badge["id"] == "https://registry.example/achievements/ach-1"
    assert badge["euStandardElements"]["nationalLevel"] == "L6"
    assert badge["creator"] == {"id": DID, "type": ["Profile"], "name": "TU Dublin", "url": "https://tud.ie",
                                "address": {"type": ["Address"], "addressCountryCode": "IE"}}
    assert badge["image"] == {"id": "https://img.example/a.png", "type": "Image"}
    level_link = next(a["targetUrl"] for a in badge["alignment"] if a["targetType"] == "ext:QualificationsFrameworkLevel")
    terms = documents.framework_document(framework, base)
    assert terms["@id"] == "https://registry.example/frameworks/nfq"
    assert [t["@id"] for t in terms["hasDefinedTerm"]] == [level_link]
    assert terms["hasDefinedTerm"][0]["sameAs"] == "http://data.europa.eu/snb/eqf/5"
