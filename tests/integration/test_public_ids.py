"""Every id and URL an issued credential names on the public origin answers
200 with its media type: through the real nginx gateway (when installed)
and directly on the service that owns it. Browsers asking for HTML get a
plain page with every value escaped.

The context URLs are left out: the platform's own context and its route
belong to the proof work (portable-proofs)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp
import msgspec
from PIL import Image

from credledger.embedded import free_port
from credledger.gateway import EmbeddedGateway, nginx_available
from shared.events import registry as ev
from shared.settings import Settings
from tests.integration.test_gateway import running, services_on_free_ports
from tests.support.http import bearer
from tests.support.waiting import eventually, running_relay
from tests.support.world import World

TITLE = "Secure <script>alert(1)</script> Coding & Review"
NOT_ON_ORIGIN = ("@context",)


def png_image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 90, 160)).save(out, format="PNG")
    return out.getvalue()


async def scene(db, settings: Settings) -> tuple[World, object, str]:
    """An accredited issuer, a framework, and an approved achievement
    aligned to one of its levels, with an uploaded image."""
    world = World(db, settings)
    await world.agency()
    issuer = await world.issuer()
    await world._append("framework:nfq", ev.FrameworkPublished(
        framework_id="nfq", agency_id="qqi", name="National Framework <of> Qualifications", credit_system="ECTS",
        levels=[ev.FrameworkLevel(code="L8", title="Level 8 honours", eqf_level=6)]))
    achievement_id = await world.achievement(issuer, title=TITLE, framework_id="nfq", level_code="L8",
                                             grading_scheme="A-F")
    image = png_image()
    await world._append(f"achievement:{achievement_id}", ev.AchievementImageUploaded(
        achievement_id=achievement_id, media_type="image/png", content=image,
        sha256=hashlib.sha256(image).hexdigest()))
    return world, issuer, achievement_id


def urls_in(value: object, origin: str, key: str = "") -> Iterator[str]:
    """Every string on the public origin (fragments dropped) and every
    did:web DID, resolved per did:web, anywhere in the document."""
    if key in NOT_ON_ORIGIN:
        return
    if isinstance(value, dict):
        for name, item in value.items():
            yield from urls_in(item, origin, name)
    elif isinstance(value, list):
        for item in value:
            yield from urls_in(item, origin, key)
    elif isinstance(value, str):
        if value.startswith(origin + "/"):
            yield value.partition("#")[0]
        elif value.startswith("did:web:"):
            host, *path = value.partition("#")[0].split(":")[2:]
            yield f"http://{unquote(host)}/{'/'.join(path)}/did.json"


def expected_media_type(path: str) -> tuple[str, str]:
    """(owning service, media type) of a public path."""
    if path.startswith("/status-lists/"):
        return "revocation", "application/vc"
    if path.endswith("/did.json"):
        return "registry", "application/json"
    if path.endswith("/image"):
        return "registry", "image/png"
    return "registry", "application/ld+json"


async def fetch(http: aiohttp.ClientSession, url: str, **kwargs) -> tuple[int, str, bytes]:
    async with http.get(url, **kwargs) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def issued_credential(http: aiohttp.ClientSession, live: Settings, issuer, achievement_id: str) -> dict:
    issuance = live.url_of("issuance")

    async def issued() -> dict | None:
        async with http.post(f"{issuance}/v1/credentials", headers=bearer(issuer.api_key), json={
            "reference": "SIS-1", "achievement_id": achievement_id, "learner": {"email": "ada@example.org"},
            "grade": "A"}) as response:
            return await response.json() if response.status in (200, 201) else None

    credential_id = (await eventually(issued))["credential_id"]
    async with http.get(f"{issuance}/v1/credentials/{credential_id}", headers=bearer(issuer.api_key)) as response:
        return msgspec.json.decode(await response.read())


async def test_every_id_in_a_credential_resolves_on_the_public_origin(settings: Settings, db, tmp_path: Path):
    gateway_port = free_port()
    origin = f"http://127.0.0.1:{gateway_port}"
    settings = msgspec.structs.replace(settings, public_base_url=origin)
    _, issuer, achievement_id = await scene(db, settings)
    async with services_on_free_ports(settings, gateway_port) as live, running_relay(live), \
            aiohttp.ClientSession() as http:
        credential = await issued_credential(http, live, issuer, achievement_id)
        urls = sorted(set(urls_in(credential, origin)))
        paths = {urlsplit(url).path for url in urls}
        assert {f"/achievements/{achievement_id}", f"/achievements/{achievement_id}/image", "/frameworks/nfq",
                f"/issuers/{issuer.issuer_id}/did.json"} <= paths, urls
        assert any(path.startswith("/status-lists/") for path in paths), urls

        # Without nginx, the services alone (the gateway tests skip for the same reason).
        gateway = EmbeddedGateway(live, tmp_path / "gateway") if nginx_available() else None
        await _resolve_all(http, live, urls, gateway)

        async with http.get(f"{live.url_of('registry')}/v1/achievements/{achievement_id}/ob3") as response:
            assert (await response.json(content_type=None))["id"] == credential["credentialSubject"]["achievement"]["id"]


async def _resolve_all(http, live: Settings, urls: list[str], gateway: EmbeddedGateway | None) -> None:
    async def resolved_everywhere(base: str | None) -> None:
        for url in urls:
            path = urlsplit(url).path
            service, media_type = expected_media_type(path)
            target = url if base else live.url_of(service) + path
            # A status list appears once revocation has published it.
            status, content_type, body = await eventually(lambda target=target: _published(http, target))
            assert (status, content_type) == (200, media_type), (target, status, content_type, body[:200])

    await resolved_everywhere(None)
    if gateway is None:
        return
    async with running(gateway):
        assert gateway.url == urlsplit(urls[0])._replace(path="").geturl()  # the public origin itself
        await resolved_everywhere(gateway.url)
        await _pages_are_escaped_html(http, gateway.url, urls)


async def _published(http, url: str):
    answer = await fetch(http, url)
    return None if answer[0] == 503 else answer


async def _pages_are_escaped_html(http, base: str, urls: list[str]) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    pages = [url for url in urls if not url.endswith(("/did.json", "/image"))]
    issuer_profile = next(url for url in urls if url.endswith("/did.json")).removesuffix("/did.json")
    for url in [*pages, issuer_profile]:
        status, content_type, body = await fetch(http, url, headers=browser)
        assert status == 200 and content_type.startswith("text/html"), (url, status)
        assert b"<script" not in body, url
    _, _, achievement_page = await fetch(http, next(u for u in urls if "/achievements/" in u and
                                                      not u.endswith("/image")), headers=browser)
    assert b"Secure &lt;script&gt;alert(1)&lt;/script&gt; Coding &amp; Review" in achievement_page
    status, content_type, body = await fetch(http, issuer_profile)
    profile = msgspec.json.decode(body)
    assert (status, content_type) == (200, "application/ld+json") and profile["type"] == ["Profile"]
