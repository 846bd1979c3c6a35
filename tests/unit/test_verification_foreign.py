"""Submitted documents the ledger never recorded: their answers, built from
cached signers, proof-option hashes and answer fragments, are byte for byte
the straightforward ones, and the caches follow the registry."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from services.verification.batch import BatchVerifier
from services.verification.documents import (
    Ed25519Batch,
    SignerKeys,
    Submitted,
    document_issuer,
    prepare_document,
    prepare_jwt,
    resolve_signer,
)
from services.verification.freshness import Freshness
from services.verification.handlers import decode_items
from services.verification.model import NEVER, ReadModel
from services.verification.schemas import Check, ItemResult, VerificationItem
from services.verification.verdicts import (
    STATUS_UNAVAILABLE,
    WINDOW_CHECKS,
    accreditation_check,
    identity_check,
    key_check,
    summary_of,
    verdict_of,
    window_state,
)
from shared.credential_format import issuer_did, issuer_id_from_did
from shared.crypto.eddsa_rdfc import ProofHashes
from shared.events import registry as rev
from shared.jsonld.contexts import ContextLoader
from shared.timeutil import parse_time
from tests.support import foreign_corpus

NOW = (1_700_000_000, 1_800_000_000, 4_200_000_000)  # before, within and after most windows
LOADER = ContextLoader("https://ledger.example")


@pytest.fixture
def corpus() -> tuple[ReadModel, list[Any]]:
    model, issuers, stranger, issued = foreign_corpus.world()
    return model, foreign_corpus.items(issuers, stranger, issued)


def verifier(model: ReadModel, *, fresh: bool = True) -> BatchVerifier:
    freshness = Freshness()
    if fresh:
        freshness.caught_up.set()
        freshness.touch(model.position)
    return BatchVerifier(model, freshness, LOADER)


def entries_of(items: list[Any]) -> tuple[list[Any], bool]:
    return asyncio.run(decode_items(msgspec.json.encode({"items": items})))


# -- a straightforward reference: every check built afresh, the answer encoded whole --

def _time(value: Any) -> Any:
    try:
        return parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _reference_foreign(model: ReadModel, item: Submitted, now: int, fresh: bool) -> bytes:
    document = item.document
    if item.problem:
        signature = Check("signature", "fail", item.problem)
    elif item.signature_ok:
        signature = Check("signature", "pass", "jws_verified" if item.via_jwt else "proof_verified")
    else:
        signature = Check("signature", "fail", "bad_signature", "the signature does not match the content: it was altered")
    issuer_id = item.signer.issuer_id if item.signer else issuer_id_from_did(document_issuer(document) or "") or ""
    subject = document.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    achievement = achievement if isinstance(achievement, dict) else {}
    title = achievement.get("name") or document.get("name")
    title = title if isinstance(title, str) else ""
    named = achievement.get("id")
    known = (model.registry.achievements.get(named.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
             if isinstance(named, str) else None)
    proof = document.get("proof")
    proof = proof[0] if isinstance(proof, list) and proof else proof
    moment = (_time(proof.get("created")) if isinstance(proof, dict) else None) or _time(document.get("validFrom"))
    if moment is None:
        accredited = Check("issuer_accredited", "unknown", "issue_time_unknown")
        key = Check("key_valid", "unknown", "signing_time_unknown")
        summary = summary_of(model, known, issuer_id, "", title)
    else:
        accredited = accreditation_check(model, issuer_id, known, moment)
        key = (key_check(model, issuer_id, item.signer.key_id, moment) if item.signer
               else Check("key_valid", "fail", "key_unknown"))
        summary = summary_of(model, known, issuer_id, moment.strftime("%Y-%m-%d"), title)
    start, end = _time(document.get("validFrom")), _time(document.get("validUntil"))
    window = WINDOW_CHECKS[window_state(int(start.timestamp()) if start else 0,
                                        int(end.timestamp()) if end else NEVER, now)]
    checks = [Check("exists", "unknown", "not_in_ledger", "the ledger has no record of this credential"),
              Check("integrity", "pass", "proof_verified") if signature.status == "pass"
              else Check("integrity", "fail", "unverified", "the content could not be authenticated"),
              signature, accredited, key,
              Check("status", "unknown", "not_in_ledger") if fresh else STATUS_UNAVAILABLE,
              window, Check("stack_components", "pass", "not_a_stack")]
    if item.identity is not None:
        found = subject.get("identifier") if isinstance(subject, dict) else None
        objects = [o for o in (found if isinstance(found, list) else [found]) if isinstance(o, dict)]
        matches = [identity_check(item.identity.type, item.identity.value, str(o.get("salt", "")),
                                  str(o.get("identityHash", ""))) for o in objects]
        checks.append(next((c for c in matches if c.status == "pass"), matches[0] if matches else
                           Check("identity_match", "unknown", "no_identity_in_credential")))
    credential_id = document.get("id")
    return msgspec.json.encode(ItemResult(
        index=item.index, id=credential_id if isinstance(credential_id, str) else None,
        verdict=verdict_of(checks), checks=checks, summary=summary))  # type: ignore[arg-type]


def _prepared(model: ReadModel, index: int, entry: VerificationItem) -> Submitted:
    signers = SignerKeys(model)
    if entry.jwt is not None:
        return prepare_jwt(model, signers, index, entry.jwt, entry.identity)
    return prepare_document(signers, ProofHashes(LOADER), index, entry.credential,  # type: ignore[arg-type]
                            entry.identity, None)


@pytest.mark.parametrize("fresh", [True, False])
def test_foreign_answers_are_the_straightforward_ones_byte_for_byte(corpus, fresh: bool) -> None:
    model, items = corpus
    entries, _ = entries_of(items)
    compared = 0
    for now in NOW:
        answers = verifier(model, fresh=fresh).run(entries, now=now).answers
        for index, entry in enumerate(entries):
            document = entry.credential if entry.jwt is None else None
            item = _prepared(model, index, entry)
            if isinstance(item.document.get("id"), str) and item.document["id"] in model.credentials:
                continue  # a ledger credential: not this path
            assert document is None or item.document is document
            Ed25519Batch().verify([item])
            assert answers[index] == _reference_foreign(model, item, now, fresh), (index, answers[index])
            compared += 1
    assert compared >= 3 * 60


def test_a_batch_answers_as_each_item_alone(corpus) -> None:
    # Answers shared through the caches (signers, option hashes, fragments) are
    # those each item gets from a verifier that never saw another item.
    model, items = corpus
    entries, plain = entries_of(items)
    assert not plain  # the corpus holds a float
    shared = verifier(model)
    for now in NOW:
        together = shared.run(entries, now=now).answers
        assert together == [verifier(model).run([entry], index, now=now).answers[0]
                            for index, entry in enumerate(entries)]


def test_plain_documents_get_the_same_answers(corpus) -> None:
    model, items = corpus
    plain_items = [item for item in items if entries_of([item])[1]]  # not the float, nor a digit-only uuid
    assert len(plain_items) >= 60
    entries, plain = entries_of(plain_items)
    assert plain
    for now in NOW:
        assert verifier(model).run(entries, now=now, plain=True).answers == verifier(model).run(entries, now=now).answers


@pytest.mark.parametrize("change", [
    rev.IssuerKeyCompromised(issuer_id="uni-0", key_id="key-1", compromised_at="2021-01-01T00:00:00Z", reason="x"),
    rev.IssuerKeyRetired(issuer_id="uni-0", key_id="key-2", valid_until="2025-03-01T00:00:00Z"),
    rev.AccreditationWithdrawn(accreditation_id="acc-0", reason="x", at="2021-01-01T00:00:00Z"),
    rev.IssuerKeyAdded(issuer_id="uni-1", key_id="key-9", public_key_multibase=foreign_corpus.public_key_of(0),
                       custody="hosted", valid_from="2020-01-01T00:00:00Z"),
])
def test_cached_answers_follow_a_registry_change(corpus, change: Any) -> None:
    model, items = corpus
    entries, _ = entries_of(items)
    warm = verifier(model)
    before = warm.run(entries, now=NOW[1]).answers
    [event] = foreign_corpus.recorded([change])
    model.apply(msgspec.structs.replace(event, position=model.position + 1))
    after = warm.run(entries, now=NOW[1]).answers
    assert after == verifier(model).run(entries, now=NOW[1]).answers
    assert after != before


def test_signer_keys_stay_bounded_and_right(corpus) -> None:
    model, _ = corpus
    signers = SignerKeys(model, limit=2)
    methods = [f"{issuer_did(foreign_corpus.BASE, f'uni-{n}')}#key-{k}" for n in range(3) for k in (1, 2)]
    methods += ["did:key:zNot", "did:web:x#y"]
    for _ in range(2):
        for method in methods:
            signer, key = signers.of(method)
            expected = resolve_signer(model, method)
            assert signer == expected
            assert key == (None if isinstance(expected, str) else model.registry.key(expected.issuer_id, expected.key_id))
    assert len(signers._found) <= 2
