"""Command envelopes, their decoding from outside bytes, and how runs are cut."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.intake.commands import ClaimStack, IssueCredential, Revoke, command_schema
from services.intake.execution import Signed, runs
from services.intake.signature import open_command, sign_command
from services.issuance.schemas import CredentialRequest, LearnerIdentity, StackRequest
from services.revocation.schemas import StatusChangeRequest
from shared.crypto.multibase import b64url_encode
from shared.untrusted import UntrustedInput

KEY = Ed25519PrivateKey.generate()
KID = "did:web:example:issuers:uni-1#cmd-key"


def issue(reference: str, issuer_id: str = "uni-1") -> IssueCredential:
    return IssueCredential(command_id=str(uuid.uuid4()), issuer_id=issuer_id, credential=CredentialRequest(
        reference=reference, achievement_id="ach-1", learner=LearnerIdentity(email="ada@example.org")))


def revoke(issuer_id: str = "uni-1") -> Revoke:
    return Revoke(command_id=str(uuid.uuid4()), issuer_id=issuer_id, credential_id=f"urn:uuid:{uuid.uuid4()}",
                  change=StatusChangeRequest(reason_code="fraud", reason="forged transcript"))


def with_payload(payload: bytes) -> bytes:
    header = b64url_encode(b'{"alg":"EdDSA","kid":"k","typ":"credledger-command+json"}')
    return f"{header}.{b64url_encode(payload)}.{b64url_encode(b'x' * 64)}".encode()


def test_the_schema_carries_every_kind_and_the_http_request_bodies():
    schema = command_schema()
    assert set(schema["discriminator"]["mapping"]) == {
        "issue_credential", "revoke", "suspend", "reinstate", "claim_stack"}
    assert {"CredentialRequest", "StatusChangeRequest", "StackRequest"} <= set(schema["$defs"])


def test_a_signed_command_opens_to_the_same_command():
    command = issue("SIS-1")
    opened = open_command(sign_command(command, KEY, KID))
    assert opened.command == command and opened.header.kid == KID
    KEY.public_key().verify(opened.signature, opened.signing_input)


@pytest.mark.parametrize("raw, reason", [
    (None, "tombstone"),
    (b"\xff\xfe", "not valid UTF-8"),
    (b"a.b", "compact JWS"),
    (with_payload(b"[" * 40 + b"]" * 40), "nests deeper"),
    (with_payload(b'{"kind":"issue_credential","command_id":"x\\u0000"}'), "NUL"),
    (with_payload(b'{"kind":"delete_everything","command_id":"0","issuer_id":"u"}'), "delete_everything"),
    (with_payload(b'{"kind":"revoke","version":2}'), "command"),
])
def test_unreadable_records_are_refused_with_a_reason(raw, reason):
    with pytest.raises(UntrustedInput) as refused:
        open_command(raw)
    assert reason in str(refused.value) or reason in refused.value.field


def signed(command) -> Signed:
    return Signed(command, "cmd-key", "commands/0/0")


def test_runs_keep_order_and_cut_at_issuer_family_and_repeated_reference():
    batch = [issue("A"), issue("B"), issue("A"), revoke(), revoke(), issue("C", "uni-2"),
             ClaimStack(command_id=str(uuid.uuid4()), issuer_id="uni-2",
                        stack=StackRequest(pathway_id="p", component_ids=["c"])), issue("D", "uni-2")]
    cut = [[s.command for s in run] for run in runs([signed(c) for c in batch])]
    assert cut == [batch[0:2], batch[2:3], batch[3:5], batch[5:6], batch[6:7], batch[7:8]]
    assert msgspec.json.decode(msgspec.json.encode(batch[3]))["kind"] == "revoke"
