"""The wallet's view of issuance: the internal holdings API and the exports.

The wallet keeps no copy of anyone's credentials: each page asks issuance,
which owns them, over the internal network (shared/holdings.py). Downloads
are fetched with the credential's learner link token and handed to the
browser under issuance's own file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
import msgspec

from shared.holdings import (
    CLAIM_PATH,
    CREDIT_ACCOUNT_PATH,
    HOLDINGS_PATH,
    STACKS_PATH,
    ClaimDetails,
    CreditAccount,
    HeldCredential,
    Holdings,
    PathwayView,
    service_headers,
)
from shared.refusals import Invalid, NotFound, Unavailable

EXPORT_FORMATS = ("json", "jwt", "png", "svg")
_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True, slots=True)
class Export:
    body: bytes
    content_type: str
    disposition: str


class IssuanceClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, master_key: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = service_headers(master_key, "wallet")

    async def holdings(self, email: str) -> Holdings:
        body = msgspec.json.encode({"email": email})
        headers = {**self._headers, "Content-Type": "application/json"}
        return msgspec.json.decode(await self._call("POST", HOLDINGS_PATH, headers, body), type=Holdings)

    async def held(self, email: str, credential_id: str) -> tuple[Holdings, HeldCredential]:
        """The learner's holdings and one credential of theirs (NotFound if it is not theirs)."""
        found = await self.holdings(email)
        for credential in found.credentials:
            if credential.credential_id == credential_id:
                return found, credential
        raise NotFound("this credential is not in your wallet")

    async def credit_account(self, holdings: Holdings) -> CreditAccount | None:
        """The learner's credit account, proven (as issuance asks) by the link
        token of one of its credentials; None while it holds none."""
        if not holdings.credentials:
            return None
        first = holdings.credentials[0]
        body = msgspec.json.encode({"credential_id": first.credential_id, "holder_token": first.holder_token})
        headers = {**self._headers, "Content-Type": "application/json"}
        return msgspec.json.decode(await self._call("POST", CREDIT_ACCOUNT_PATH, headers, body), type=CreditAccount)

    async def claim_award(self, holdings: Holdings, pathway: PathwayView) -> str:
        """Claim the pathway's award with the components the learner holds; the
        award's credential id. Issuance decides (rule, status, recognition);
        its refusal is passed on in its own words."""
        held = [c.credential_id for c in (*pathway.required, *(o for ch in pathway.choices for o in ch.options))
                if c.credential_id]
        tokens = {c.credential_id: c.holder_token for c in holdings.credentials}
        if not held or held[0] not in tokens:
            raise Invalid("you hold no component of this pathway yet", code="pathway-rule-not-met")
        body = msgspec.json.encode({"pathway_id": pathway.pathway_id, "component_ids": held,
                                    "holder_token": tokens[held[0]]})
        try:
            async with self._session.post(self._base + STACKS_PATH, data=body, timeout=_TIMEOUT,
                                          headers={"Content-Type": "application/json"}) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"the issuance service is unreachable ({type(exc).__name__}); try again") from exc
        if response.status in (200, 201):
            return str(answer["award_credential_id"])
        if response.status in (409, 422):
            raise Invalid(str(answer.get("detail", "the award cannot be made yet")), code="award-refused")
        raise Unavailable(f"issuance answered {response.status}; try again shortly")

    async def claim(self, credential_id: str) -> ClaimDetails:
        path = CLAIM_PATH.format(credential_id=quote(credential_id, safe=":"))
        return msgspec.json.decode(await self._call("GET", path, self._headers), type=ClaimDetails)

    async def export(self, credential: HeldCredential, form: str) -> Export:
        path = f"/v1/credentials/{quote(credential.credential_id, safe=':')}"
        params = {"token": credential.holder_token, "format": form}
        try:
            async with self._session.get(self._base + path, params=params, timeout=_TIMEOUT) as response:
                body = await response.read()
                if response.status != 200:
                    raise Unavailable(f"issuance answered {response.status} for the {form} download; try again")
                return Export(body, response.headers.get("Content-Type", "application/octet-stream"),
                              response.headers.get("Content-Disposition", ""))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"the issuance service is unreachable ({type(exc).__name__}); try again") from exc

    async def _call(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> bytes:
        try:
            async with self._session.request(method, self._base + path, headers=headers, data=body,
                                             timeout=_TIMEOUT) as response:
                payload = await response.read()
                if response.status == 404:
                    raise NotFound("no such credential")
                if response.status == 422:
                    # Signed in with an address issuance would not issue to: it holds nothing.
                    raise Invalid("this address is not one credentials can be issued to",
                                  code="learner-identity-invalid")
                if response.status != 200:
                    raise Unavailable(f"issuance answered {response.status}; try again shortly")
                return payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"the issuance service is unreachable ({type(exc).__name__}); try again") from exc
