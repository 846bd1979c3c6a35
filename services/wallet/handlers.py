"""The wallet's pages: HTTP only (what they show comes from issuance, sharing and views)."""

from __future__ import annotations

from aiohttp import web

from services.wallet import views
from services.wallet.context import wallet
from services.wallet.issuance_client import EXPORT_FORMATS
from shared.http.middleware import request_id_of
from shared.refusals import Invalid, NotFound
from shared.timeutil import now
from shared.web.pages import render, signed_in_subject

CREDENTIAL = "/credentials/{credential_id}"


def add_routes(pages: web.Application) -> None:
    pages.router.add_get("/", home)
    pages.router.add_get("/summary.json", summary)
    pages.router.add_get("/pathways", pathways)
    pages.router.add_get("/credits", credits)
    pages.router.add_post("/pathways/{pathway_id}/claim", claim_award)
    pages.router.add_get(CREDENTIAL, credential_page)
    pages.router.add_get(CREDENTIAL + "/download/{format}", download)
    pages.router.add_get(CREDENTIAL + "/image", badge_image)
    pages.router.add_get(CREDENTIAL + "/qr.svg", qr_code)
    pages.router.add_post(CREDENTIAL + "/shares", create_share)
    pages.router.add_post(CREDENTIAL + "/shares/{share_id}/revoke", revoke_share)
    pages.router.add_post(CREDENTIAL + "/privacy", set_privacy)


async def home(request: web.Request) -> web.Response:
    holdings = await wallet(request).issuance.holdings(signed_in_subject(request))
    return await render(request, "wallet/home.html", {
        "credentials": holdings.credentials, "pathways": holdings.pathways, "views": views})


async def summary(request: web.Request) -> web.Response:
    """For the home page's live update (static/live.js): reload once the count changed."""
    holdings = await wallet(request).issuance.holdings(signed_in_subject(request))
    try:
        known = int(request.query.get("known", "-1"))
    except ValueError:
        raise Invalid("known must be a number of credentials", code="validation-failed") from None
    count = len(holdings.credentials)
    return web.json_response({"count": count, "done": count != known})


async def pathways(request: web.Request) -> web.Response:
    holdings = await wallet(request).issuance.holdings(signed_in_subject(request))
    titles = {c.credential_id: c.title for c in holdings.credentials}
    return await render(request, "wallet/pathways.html", {
        "pathways": holdings.pathways, "titles": titles, "views": views})


async def claim_award(request: web.Request) -> web.Response:
    client = wallet(request).issuance
    holdings = await client.holdings(signed_in_subject(request))
    pathway = next((p for p in holdings.pathways if p.pathway_id == request.match_info["pathway_id"]), None)
    if pathway is None:
        raise NotFound("you have not started this pathway")
    # Awarded already (a second click, an automatic award): the award, not a refusal.
    award_id = pathway.awarded_credential_id or await client.claim_award(holdings, pathway)
    raise web.HTTPSeeOther(f"/wallet/credentials/{award_id}")


async def credits(request: web.Request) -> web.Response:
    client = wallet(request).issuance
    account = await client.credit_account(await client.holdings(signed_in_subject(request)))
    return await render(request, "wallet/credits.html", {"account": account, "views": views})


async def _held(request: web.Request):
    return await wallet(request).issuance.held(signed_in_subject(request), request.match_info["credential_id"])


async def credential_page(request: web.Request) -> web.Response:
    ctx = wallet(request)
    holdings, credential = await _held(request)
    badge_page = views.badge_url(ctx.verify_origin, credential.credential_id)
    return await render(request, "wallet/credential.html", {
        "credential": credential, "views": views, "badge_page": badge_page,
        "linkedin": views.linkedin_url(credential, badge_page), "downloads": views.DOWNLOADS,
        "shares": await ctx.sharing.links(credential.credential_id),
        "private": await ctx.sharing.is_private(credential.credential_id),
        "created": request.query.get("created", ""), "now": now(),
        "pathways": [p for p in holdings.pathways if p.awarded_credential_id == credential.credential_id
                     or any(c.credential_id == credential.credential_id for c in p.required)],
    })


async def download(request: web.Request) -> web.Response:
    form = request.match_info["format"]
    if form not in EXPORT_FORMATS:
        raise NotFound(f"no download in the format {form!r} (one of {', '.join(EXPORT_FORMATS)})")
    _, credential = await _held(request)
    export = await wallet(request).issuance.export(credential, form)
    headers = {"Content-Disposition": export.disposition} if export.disposition else {}
    return web.Response(body=export.body, headers={**headers, "Content-Type": export.content_type})


async def badge_image(request: web.Request) -> web.Response:
    _, credential = await _held(request)
    export = await wallet(request).issuance.export(credential, "png")
    return web.Response(body=export.body, content_type="image/png")


async def qr_code(request: web.Request) -> web.Response:
    _, credential = await _held(request)
    url = views.badge_url(wallet(request).verify_origin, credential.credential_id)
    return web.Response(body=views.qr_svg(url, f"QR code of the badge page of {credential.title}"),
                        content_type="image/svg+xml")


def _back(request: web.Request, query: str = "", anchor: str = "") -> web.HTTPSeeOther:
    path = f"/wallet/credentials/{request.match_info['credential_id']}"
    return web.HTTPSeeOther(path + (f"?{query}" if query else "") + (f"#{anchor}" if anchor else ""))


async def create_share(request: web.Request) -> web.Response:
    _, credential = await _held(request)
    form = await request.post()
    try:
        expires_on = views.parse_day(str(form.get("expires_on", "")))
    except ValueError:
        raise Invalid("the expiry date is not a date (YYYY-MM-DD)", code="share-expiry") from None
    share_id = await wallet(request).sharing.create(credential, str(form.get("name", "")), expires_on,
                                                    request_id_of(request))
    raise _back(request, f"created={share_id}", f"share-{share_id}")


async def revoke_share(request: web.Request) -> web.Response:
    _, credential = await _held(request)
    await wallet(request).sharing.revoke(credential, request.match_info["share_id"], request_id_of(request))
    raise _back(request, anchor="sharing")


async def set_privacy(request: web.Request) -> web.Response:
    _, credential = await _held(request)
    form = await request.post()
    await wallet(request).sharing.set_private(credential, form.get("private") == "on", request_id_of(request))
    raise _back(request, anchor="privacy")
