"""The public log commits to credentials without disclosing them (leaf v2):
its entries carry digests, their inclusion proofs verify with an RFC 9162
check written here from the RFC (not the project's merkle module), and a
holder's document is proven in the log through the tlog-proof bundle."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import hashlib
import json

import pytest

from services.verification.app import create_app
from services.verification.projection import ReadModelOptions
from shared.credential_format import identity_hash
from shared.events import credentials as cev
from shared.ledger.transparency.checkpoints import Checkpointer, LogSigner
from shared.ledger.transparency.leaf import verify_document_in_log
from shared.ledger.transparency.signed_note import NoteError, verify_checkpoint
from tests.support.credentials_for_verification import build_scene, change_status, eventually, issue, serving_ready

app_factory = functools.partial(create_app, options=ReadModelOptions(idle_check_interval=0.2))
REASON = "Academic misconduct: plagiarism in the final project"


def rfc9162_root_from_inclusion_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        raise ValueError("index beyond the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("path too long")
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("path too short")
    return r


@contextlib.asynccontextmanager
async def checkpointing(settings):
    stop = asyncio.Event()
    signer = LogSigner(settings.log_origin, settings.log_signing_key)
    checkpointer = Checkpointer(settings.database_url, signer, every_events=1000,
                                every_seconds=0.2, poll_interval=0.1)
    task = asyncio.create_task(checkpointer.run(stop))
    try:
        yield signer
    finally:
        stop.set()
        await task


@pytest.fixture
async def scene(db, settings):
    return await build_scene(db, settings)


async def test_credential_entries_disclose_only_digests_and_still_prove_inclusion(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id, email="grace@example.org")
    [issued_at] = issued.positions
    revoked_at = await change_status(scene.ledger, scene.issuer, issued.credential_id,
                                     cev.CredentialRevoked, reason_code="misconduct", reason=REASON)
    identity = issued.document["credentialSubject"]["identifier"][0]
    secrets = [identity["identityHash"], identity["salt"], issued.document["proof"]["proofValue"], REASON]
    async with checkpointing(settings) as signer, serving_ready(app_factory, settings) as client:
        async def checkpoint_covering_both():
            note = await (await client.get("/v1/audit/checkpoint")).text()
            return note if f"\n{revoked_at}\n" in note else None

        checkpoint = verify_checkpoint(await eventually(checkpoint_covering_both), signer.vkey)
        for position in (issued_at, revoked_at):
            raw = await (await client.get(f"/v1/audit/entries/{position}")).text()
            body = json.loads(raw)
            leaf = base64.b64decode(body["leaf"])
            public_text = raw + leaf.decode()
            for secret in secrets + ["identityHash", "credentialSubject", "salt", "grace@example.org"]:
                assert secret not in public_text
            assert "entry" not in body

            fields = json.loads(leaf)
            assert (fields["leaf_version"], fields["position"]) == (2, position)
            assert fields["chain_hash"] == base64.b64decode(body["hash"]).hex()
            leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
            assert base64.b64decode(body["leaf_hash"]) == leaf_hash

            inclusion = await (await client.get("/v1/audit/proofs/inclusion", params={
                "position": str(position), "tree_size": str(checkpoint.size)})).json()
            path = [base64.b64decode(h) for h in inclusion["proof"]]
            assert rfc9162_root_from_inclusion_path(position - 1, checkpoint.size, leaf_hash, path) \
                == checkpoint.root_hash
        issued_leaf = json.loads(base64.b64decode((await (await client.get(
            f"/v1/audit/entries/{issued_at}")).json())["leaf"]))
        assert issued_leaf["document_sha256"] == issued.event.document_hash


async def test_registry_entries_stay_in_the_clear(settings, scene):
    async with serving_ready(app_factory, settings) as client:
        body = await (await client.get("/v1/audit/entries/1")).json()
        entry = json.loads(base64.b64decode(body["entry"]))
        assert entry["type"] == "registry.AgencyCreated" and entry["payload"]["name"]
        prev, digest = base64.b64decode(body["prev_hash"]), base64.b64decode(body["hash"])
        assert hashlib.sha256(prev + base64.b64decode(body["entry"])).digest() == digest


async def test_holder_proves_exactly_this_document_is_in_the_log(settings, scene):
    issued = await issue(scene.ledger, scene.issuer, scene.achievement_id)
    [position] = issued.positions
    async with checkpointing(settings) as signer, serving_ready(app_factory, settings) as client:
        async def bundle():
            response = await client.get(f"/v1/audit/proofs/tlog/{position}")
            return await response.text() if response.status == 200 else None

        text = await eventually(bundle)
        checkpoint = verify_document_in_log(text, issued.document, settings.log_origin, signer.vkey)
        assert checkpoint.size >= position

        tampered = copy.deepcopy(issued.document)
        tampered["credentialSubject"]["identifier"][0]["identityHash"] = identity_hash(
            "emailAddress", "mallory@example.org", "00" * 16)
        with pytest.raises(NoteError, match="not the one this leaf commits to"):
            verify_document_in_log(text, tampered, settings.log_origin, signer.vkey)
        other = await issue(scene.ledger, scene.issuer, scene.achievement_id)
        with pytest.raises(NoteError):
            verify_document_in_log(text, other.document, settings.log_origin, signer.vkey)
