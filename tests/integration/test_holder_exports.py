"""What a holder downloads, through the real registry, issuance and
verification services: the credential as a .json file and as VC-JOSE, and
baked into its badge image (an uploaded PNG, a generated SVG). Each baked
image, read back with the shared reader, verifies through the
verification API; a scripted SVG and a corrupt PNG are refused on upload."""

from __future__ import annotations

import functools
import io
import re

import msgspec
from PIL import Image

from services.issuance.app import create_app as issuance_app
from services.registry.app import create_app as registry_app
from services.verification.app import create_app as verification_app
from services.verification.projection import ReadModelOptions
from shared.badge_baking import png_chunks, unbake
from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.jws import verify_vc_jws
from tests.support.credentials_for_verification import serving_ready
from tests.support.http import bearer, serving
from tests.support.issuance import registry_caught_up, university
from tests.support.ledger import ledger_head
from tests.support.waiting import eventually, running_relay

FAST = ReadModelOptions(idle_check_interval=0.2, max_silence_seconds=1.5, retry_interval=0.3)
SCRIPTED_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                b'<script>alert(document.cookie)</script></svg>')


def uploaded_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def issue(issuance, issuer, achievement_id: str, reference: str) -> dict:
    response = await issuance.post("/v1/credentials", headers=bearer(issuer.api_key), json={
        "reference": reference, "achievement_id": achievement_id, "learner": {"email": "ada.lovelace@example.org"}})
    assert response.status == 201, await response.text()
    return await response.json()


async def export(issuance, issued: dict, form: str) -> tuple[dict, bytes]:
    response = await issuance.get(f"/v1/credentials/{issued['credential_id']}",
                                  params={"token": issued["holder_token"], "format": form})
    assert response.status == 200, await response.text()
    return dict(response.headers), await response.read()


async def verdict(verifier, employer_key: str, credential: dict) -> str:
    """The verdict once the credential's issuance has reached the read model."""
    async def settled() -> str | None:
        response = await verifier.post("/v1/verifications", json={"items": [{"credential": credential}]},
                                       headers=bearer(employer_key))
        assert response.status == 200, await response.text()
        answer = (await response.json())["results"][0]["verdict"]
        return None if answer == "unknown" else answer
    return await eventually(settled)


async def test_baked_png_and_svg_round_trip_and_verify(settings, db):
    world, issuer, achievement_id = await university(db, settings, title="Data <Analysis> & Python")
    employer_key = await world.client("employer", "acme")
    image = uploaded_png()
    async with serving(registry_app, settings) as registry, serving(issuance_app, settings) as issuance, \
            running_relay(settings), \
            serving_ready(functools.partial(verification_app, options=FAST), settings) as verifier:
        uploaded = await registry.put(f"/v1/achievements/{achievement_id}/image", data=image,
                                      headers={**bearer(issuer.api_key), "Content-Type": "image/png"})
        assert uploaded.status == 200, await uploaded.text()
        served = await registry.get(f"/achievements/{achievement_id}/image")
        assert served.headers["Content-Type"] == "image/png" and await served.read() == image

        await registry_caught_up(issuance, db)
        issued = await issue(issuance, issuer, achievement_id, "SIS-1")
        headers, raw = await export(issuance, issued, "json")
        document = msgspec.json.decode(raw)
        image_url = f"{settings.public_base_url}/achievements/{achievement_id}/image"
        assert document["credentialSubject"]["achievement"]["image"] == {"id": image_url, "type": "Image"}
        short_id = issued["credential_id"].removeprefix("urn:uuid:").replace("-", "")[:8]
        assert headers["Content-Disposition"] == f'attachment; filename="data-analysis-python-{short_id}.json"'
        assert headers["Content-Type"] == "application/vc"

        _, png = await export(issuance, issued, "png")
        # The uploaded image's pixels, with the credential before IEND.
        kinds = [kind for kind, _ in png_chunks(png)]
        assert kinds[-2:] == [b"iTXt", b"IEND"]
        assert [body for kind, body in png_chunks(png) if kind == b"IDAT"] == [
            body for kind, body in png_chunks(image) if kind == b"IDAT"]
        assert unbake(png).encode() == raw

        # No SVG was uploaded: the generated badge, its text escaped.
        headers, svg = await export(issuance, issued, "svg")
        assert headers["Content-Type"] == "image/svg+xml"
        assert headers["Content-Disposition"].endswith(f'-{short_id}.svg"')
        assert b"Data &lt;Analysis&gt; &amp; Python" in svg and b"EQF level 6" in svg
        assert b"University uni-1" in svg
        assert unbake(svg).encode() == raw

        for baked in (png, svg):
            assert await verdict(verifier, employer_key, msgspec.json.decode(unbake(baked))) == "valid"
        tampered = msgspec.json.decode(unbake(svg))
        tampered["credentialSubject"]["achievement"]["name"] = "Brain Surgery"
        assert await verdict(verifier, employer_key, tampered) == "invalid"


async def test_downloads_name_the_achievement_never_the_learner_and_jwt_has_no_charset(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    async with serving(issuance_app, settings) as issuance:
        await registry_caught_up(issuance, db)
        issued = await issue(issuance, issuer, achievement_id, "SIS-2")
        for form in ("json", "jwt", "png", "svg"):
            headers, _ = await export(issuance, issued, form)
            name = re.fullmatch(r'attachment; filename="([a-z0-9-]+)\.(\w+)"', headers["Content-Disposition"])
            assert name and name.group(2) == form and name.group(1).startswith("data-analysis-with-python-")
            assert "ada" not in headers["Content-Disposition"] and issued["learner_hash"] not in name.group(1)
        headers, token = await export(issuance, issued, "jwt")
        assert headers["Content-Type"] == "application/vc+jwt"
        assert verify_vc_jws(token.decode(), raw_public_key(issuer.private_key))
        response = await issuance.get(f"/v1/credentials/{issued['credential_id']}",
                                      params={"token": issued["holder_token"], "format": "gif"})
        assert response.status == 400 and response.content_type == "application/problem+json"


async def test_scripted_svg_and_corrupt_png_are_refused_and_change_nothing(settings, db):
    world, issuer, achievement_id = await university(db, settings)
    png = uploaded_png()
    corrupt = png[:40] + bytes([png[40] ^ 0xFF]) + png[41:]
    async with serving(registry_app, settings) as registry:
        head = await ledger_head(db)
        for body, media_type, says in (
            (SCRIPTED_SVG, "image/svg+xml", "<script>"),
            (b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', "image/svg+xml", "event handler"),
            (corrupt, "image/png", "CRC"),
            (b"GIF89a....", "image/png", "signature"),
            (png, "image/gif", "image/png or image/svg+xml"),
            (b"x" * (256 * 1024 + 1), "image/png", "262144 bytes"),
        ):
            response = await registry.put(f"/v1/achievements/{achievement_id}/image", data=body,
                                          headers={**bearer(issuer.api_key), "Content-Type": media_type})
            problem = await response.json(content_type=None)
            assert response.status in (413, 422) and response.content_type == "application/problem+json", problem
            assert says in problem["detail"], problem
        assert await ledger_head(db) == head
        assert (await registry.get(f"/achievements/{achievement_id}/image")).status == 404
        other = await world.issuer("uni-2")
        head = await ledger_head(db)
        response = await registry.put(f"/v1/achievements/{achievement_id}/image", data=png,
                                      headers={**bearer(other.api_key), "Content-Type": "image/png"})
        assert response.status == 403 and await ledger_head(db) == head
