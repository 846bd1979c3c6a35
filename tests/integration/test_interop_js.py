"""The eddsa-rdfc-2022 proof of credentials issued by the running system
verifies with the Digital Bazaar / DCC JavaScript stack (jsonld-signatures,
@digitalbazaar/data-integrity, @digitalbazaar/eddsa-rdfc-2022-cryptosuite:
what the DCC's verifier-core runs), and their strict ("safe mode") JSON-LD
expansion passes there too; and a standard Bitstring Status List verifier
(@digitalbazaar/vc-bitstring-status-list) verifies the published status
list and sees a revoked credential as revoked. Contexts, status lists and
the issuer's key are handed to node, whose document loader refuses every
other URL: no network."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
from pathlib import Path

import pytest

from shared.crypto.eddsa_jcs import raw_public_key
from shared.crypto.multibase import public_key_to_multibase
from shared.jsonld.contexts import BUNDLED, CONTEXT_DIR, PLATFORM_CONTEXT_FILE, platform_context_url
from shared.statuslist import Bitstring
from tests.support.http import bearer
from tests.support.portable import issue_every_shape
from tests.support.revocation import revocation_service
from tests.support.waiting import eventually

INTEROP = Path(__file__).resolve().parents[1] / "interop" / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the JavaScript interop test needs it")


def bundled_contexts(public_base_url: str) -> dict[str, object]:
    files = {**BUNDLED, platform_context_url(public_base_url): PLATFORM_CONTEXT_FILE}
    return {url: json.loads((CONTEXT_DIR / name).read_text()) for url, name in files.items()}


async def verify_with_javascript(credentials: list[dict], public_key: bytes, method: str,
                                 public_base_url: str, status_lists: dict | None = None) -> list[dict]:
    assert (INTEROP / "node_modules" / "jsonld-signatures").is_dir(), (
        f"the JavaScript verifier is not installed: run `make interop-deps` (npm ci in {INTEROP})")
    request = {"contexts": bundled_contexts(public_base_url), "verificationMethod": method,
               "publicKeyMultibase": public_key_to_multibase(public_key), "credentials": credentials}
    if status_lists is not None:
        request["statusLists"] = status_lists
    process = await asyncio.create_subprocess_exec(
        NODE, str(INTEROP / "verify.mjs"), cwd=INTEROP, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate(json.dumps(request).encode())
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


async def test_the_dcc_stack_verifies_the_rdfc_proof_and_expands_strictly(settings, db):
    issuer, documents = await issue_every_shape(db, settings)
    method = f"{issuer.did}#{issuer.key_id}"
    tampered = copy.deepcopy(documents[1])
    tampered["credentialSubject"]["achievement"]["euStandardElements"]["eqfLevel"] = 8
    without_platform_context = {**documents[0], "@context": documents[0]["@context"][:2]}
    outcomes = await verify_with_javascript(
        [*documents, tampered, without_platform_context], raw_public_key(issuer.private_key), method,
        settings.public_base_url)
    for outcome in outcomes[:len(documents)]:
        assert outcome == {"verified": True, "safeExpansion": True, "error": ""}
    assert outcomes[-2]["verified"] is False and outcomes[-2]["safeExpansion"] is True
    # Without the platform's context its terms are undefined: safe mode refuses them.
    assert outcomes[-1]["verified"] is False and outcomes[-1]["safeExpansion"] is False


async def test_a_standard_status_list_verifier_sees_a_revoked_credential_as_revoked(settings, db):
    issuer, documents = await issue_every_shape(db, settings)
    revoked, kept = documents
    async with revocation_service(settings) as client:
        response = await client.post(f"/v1/credentials/{revoked['id']}/revoke", headers=bearer(issuer.api_key),
                                     json={"reason_code": "issued_in_error", "reason": "wrong learner"})
        assert response.status == 200, await response.text()

        async def status_list(credential: dict, revoked: bool) -> dict | None:
            entry = credential["credentialStatus"]
            answer = await client.get("/status-lists/" + entry["statusListCredential"].rsplit("/", 1)[-1])
            if answer.status != 200:
                return None
            document = json.loads(await answer.read())
            bit = Bitstring.decode(document["credentialSubject"]["encodedList"]).get(int(entry["statusListIndex"]))
            return document if bit == revoked else None

        lists = {}
        for credential, is_revoked in ((kept, False), (revoked, True)):
            lists[credential["credentialStatus"]["statusListCredential"]] = await eventually(
                lambda credential=credential, is_revoked=is_revoked: status_list(credential, is_revoked), timeout=15)
    outcomes = await verify_with_javascript([revoked, kept], raw_public_key(issuer.private_key),
                                            f"{issuer.did}#{issuer.key_id}", settings.public_base_url, lists)
    # The list's own eddsa-rdfc-2022 proof verified, then the revocation bit read.
    assert [o["status"] for o in outcomes] == [{"verified": True, "set": True, "error": ""},
                                               {"verified": True, "set": False, "error": ""}]
