"""Submitted documents and JWTs: canonical hashes, proofs, signer keys.

A document whose canonical hash equals the ledger's is the issued one and
needs no signature check. Any other document, and every JWT, is checked in
two phases so a request's signatures can be verified together: `prepare_*`
does the JSON work (JCS, or RDFC-1.0 for eddsa-rdfc-2022 and
Ed25519Signature2020 proofs) and names the Ed25519 checks still owed, one
per proof of the set; `finish` turns the outcome into checks once the
batch has been verified: a proof set passes only if every proof does.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgspec

from services.verification import ed25519
from services.verification.model import NEVER, CredentialRecord, ReadModel
from services.verification.schemas import Check, Identity, ItemResult, Summary
from services.verification.verdicts import (
    FAIL,
    PASS,
    STATUS_UNAVAILABLE,
    UNKNOWN,
    WINDOW_CHECKS,
    Verdicts,
    identity_check,
    summary_of,
    verdict_of,
    window_state,
)
from shared.credential_format import issuer_id_from_did, split_verification_method
from shared.crypto import jws
from shared.crypto.did_key import DID_KEY_PREFIX, public_key_from_did_key
from shared.crypto.eddsa_jcs import prepare_native
from shared.crypto.eddsa_rdfc import ProofHashes
from shared.crypto.jcs import canonicalize, canonicalize_plain
from shared.crypto.native import jcsproof
from shared.crypto.proof_set import prepare_proof_set, verification_method_of
from shared.registry_state import IssuerKey
from shared.timeutil import parse_time

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Signer:
    issuer_id: str
    key_id: str
    did: str


@dataclass(slots=True)
class Submitted:
    """A document or JWT waiting for its Ed25519 check."""

    index: int
    document: dict[str, Any]
    identity: Identity | None
    via_jwt: bool
    # Decoded by jcs.PlainJsonDecoder and found plain: JCS without the pre-walk.
    plain: bool = False
    signer: Signer | None = None
    # Why no signature check could run (then the signature check fails).
    problem: str = ""
    # (public key, signature, signed bytes) still to verify: all must.
    pending: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    signature_ok: bool = False
    # The ledger's record of the document's id, looked up once, as it was prepared.
    record: CredentialRecord | None = None


class SignerKeys:
    """The registered signer each verification method or JWS `kid` names (or
    why none), with its key. Documents one key signed name one method, so
    each is resolved once until the registry changes (the model's epoch
    counts every change of issuers and keys)."""

    def __init__(self, model: ReadModel, limit: int = 10_000) -> None:
        self.model = model
        self._limit = limit
        self._found: dict[str, tuple[Signer | str, IssuerKey | None]] = {}
        self._epoch = -1

    def of(self, method: str) -> tuple[Signer | str, IssuerKey | None]:
        """The signer (or why none) and its registered key (None if none)."""
        if self._epoch != self.model.epoch:
            self._found.clear()
            self._epoch = self.model.epoch
        found = self._found.get(method)
        if found is None:
            if len(self._found) >= self._limit:
                self._found.clear()  # many methods: start over rather than grow without bound
            signer = resolve_signer(self.model, method)
            key = None if isinstance(signer, str) else self.model.registry.key(signer.issuer_id, signer.key_id)
            found = self._found[method] = (signer, key)
        return found


class Ed25519Batch:
    """Verifies a request's signatures together (libsodium; see ed25519.py)."""

    def verify(self, submitted: list[Submitted]) -> None:
        verify = ed25519.verify
        for item in submitted:
            pending = item.pending
            if len(pending) == 1:  # most documents: one proof
                item.signature_ok = verify(*pending[0])
            elif pending:
                item.signature_ok = all(verify(*check) for check in pending)


def canonical_digest(document: dict[str, Any], *, plain: bool = False) -> bytes | None:
    digest = jcsproof.canonical_sha256(document) if jcsproof is not None else None
    if digest is not None:
        return digest
    try:
        return hashlib.sha256(canonicalize_plain(document) if plain else canonicalize(document)).digest()
    except (ValueError, TypeError, RecursionError):
        return None  # not representable in JCS (e.g. a huge integer): cannot match the ledger


def resolve_signer(model: ReadModel, method: str) -> Signer | str:
    """The registered issuer key a verification method or JWS `kid` names, or why not."""
    if method.startswith(DID_KEY_PREFIX):
        try:
            found = model.keys_by_public.get(public_key_from_did_key(method))
        except ValueError:
            return "malformed_key_id"
        return Signer(found[0], found[1], method.partition("#")[0]) if found else "issuer_unknown"
    did, key_id = split_verification_method(method)
    issuer = model.registry.issuers.get(issuer_id_from_did(did) or "")
    if issuer is None or issuer.event.did != did:
        return "issuer_unknown"
    if key_id not in issuer.keys:
        return "key_unknown"
    return Signer(issuer.issuer_id, key_id, did)


def prepare_document(signers: SignerKeys, hashes: ProofHashes, index: int, document: dict[str, Any],
                     identity: Identity | None, record: CredentialRecord | None, *, plain: bool = False) -> Submitted:
    """`record`: the ledger's record of the document's id (None if none)."""
    item = Submitted(index, document, identity, via_jwt=False, plain=plain, record=record)
    proof = document.get("proof")
    done = prepare_native(document, proof) if type(proof) is dict else None
    if done is not None:  # most documents: one eddsa-jcs-2022 proof, its JSON work in one native call
        method, hash_data, signature = done
        key = _bind_signer(signers, item, method)
        if item.signer is not None:
            item.pending = [(key.public_key, signature, hash_data)]  # type: ignore[union-attr]
        return item
    proofs = prepare_proof_set(document, hashes, plain=plain)
    method = verification_method_of(proofs) if proofs else None
    if method is None:
        # Also a set whose proofs name several keys: one issuer key must vouch for all of it.
        item.problem = "malformed_proof"
        return item
    key = _bind_signer(signers, item, method)
    if item.signer is not None:
        item.pending = [(key.public_key, proof.signature, proof.hash_data)  # type: ignore[union-attr]
                        for proof in proofs]  # type: ignore[union-attr]
    return item


def prepare_jwt(model: ReadModel, signers: SignerKeys, index: int, token: str, identity: Identity | None) -> Submitted:
    """Raises ValueError for a token that is not a compact JWS at all."""
    header, payload, signing_input, signature = jws.decode_vc_jws(token)
    credential_id = payload.get("id")
    record = model.credentials.get(credential_id) if isinstance(credential_id, str) else None
    item = Submitted(index, payload, identity, via_jwt=True, record=record)
    if header.get("alg") != jws.JWS_ALG or header.get("typ") != jws.JWS_TYP or "crit" in header:
        item.problem = "unsupported_jws"
        return item
    kid = header.get("kid")
    if not isinstance(kid, str):
        item.problem = "malformed_key_id"
        return item
    key = _bind_signer(signers, item, kid)
    if item.signer is not None:
        item.pending = [(key.public_key, signature, signing_input)]  # type: ignore[union-attr]
    return item


def _bind_signer(signers: SignerKeys, item: Submitted, method: str) -> IssuerKey | None:
    """Sets the item's signer (or its problem); the signer's registered key."""
    signer, key = signers.of(method)
    if isinstance(signer, str):
        item.problem = signer
    elif document_issuer(item.document) != signer.did:
        # A valid signature by someone else's key proves nothing about this issuer.
        item.problem = "key_not_of_issuer"
    else:
        item.signer = signer
    return key


def document_issuer(document: dict[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def finish(model: ReadModel, verdicts: Verdicts, item: Submitted, now: int, *,
           fresh: bool) -> ItemResult | tuple[bytes, str]:
    """The item's answer, or its encoding and verdict."""
    credential_id = item.document.get("id")
    record = item.record
    signature = _signature_check(item)
    if record is None:
        return _foreign(model, verdicts, item, signature, now, fresh=fresh)
    if signature.status == PASS and item.signer and item.signer.issuer_id != record.issuer_id:
        signature = Check("signature", FAIL, "key_not_of_issuer")
    integrity = _ledger_integrity(item, record.document_hash, signature)
    identity = _identity(item.identity, record.salt, record.learner_hash)
    origin = (Check("exists", PASS, "in_ledger"), integrity, signature)
    checks = verdicts.checks(credential_id, record, now, origin, fresh=fresh,  # type: ignore[arg-type]
                             identity=identity)
    return ItemResult(index=item.index, id=credential_id, verdict=verdict_of(checks),  # type: ignore[arg-type]
                      checks=checks, summary=verdicts.summary(record))


def _signature_check(item: Submitted) -> Check:
    if item.problem:
        return Check("signature", FAIL, item.problem)
    if item.signature_ok:
        return _VERIFIED[item.via_jwt]
    return _BAD_SIGNATURE


_VERIFIED = (Check("signature", PASS, "proof_verified"), Check("signature", PASS, "jws_verified"))
_BAD_SIGNATURE = Check("signature", FAIL, "bad_signature", "the signature does not match the content: it was altered")


def _ledger_integrity(item: Submitted, ledger_digest: bytes, signature: Check) -> Check:
    if canonical_digest(item.document, plain=item.plain) == ledger_digest:
        return Check("integrity", PASS, "matches_ledger")
    if item.via_jwt and signature.status == PASS:
        # A VC-JOSE export wraps the credential differently; its own signature vouches for it.
        return Check("integrity", PASS, "jws_verified")
    return Check("integrity", FAIL, "differs_from_ledger", "the document differs from the one the issuer issued")


def _foreign(model: ReadModel, verdicts: Verdicts, item: Submitted, signature: Check, now: int, *,
             fresh: bool) -> ItemResult | tuple[bytes, str]:
    """A document the ledger never recorded: only what it carries can be checked.

    Its answer depends on these facts only, and documents one key signed at
    one time share them: without an identity to compare, the answer is
    encoded once per facts, as a fragment (as ledger credentials' are)."""
    document = item.document
    facts = _facts(item, signature, now, fresh)
    credential_id = document.get("id")
    if item.identity is None:
        fragment, verdict = verdicts.fragment(facts, lambda: _foreign_checks(model, verdicts, *facts))
        if isinstance(credential_id, str):
            return b'{"index":%d,"id":%b,%b' % (item.index, _encode(credential_id), fragment), verdict
        return b'{"index":%d,%b' % (item.index, fragment), verdict
    checks, summary = _foreign_checks(model, verdicts, *facts)
    checks.append(_document_identity(document, item.identity))
    return ItemResult(index=item.index, id=credential_id if isinstance(credential_id, str) else None,
                      verdict=verdict_of(checks), checks=checks, summary=summary)  # type: ignore[arg-type]


def _facts(item: Submitted, signature: Check, now: int, fresh: bool) -> tuple[Any, ...]:
    """_foreign_checks' arguments: what a foreign document's answer depends on, each member read once."""
    document, signer = item.document, item.signer
    achievement = _subject_achievement(document)
    achievement_id, title = achievement.get("id"), achievement.get("name") or document.get("name")
    return (signer.issuer_id if signer else issuer_id_from_did(document_issuer(document) or "") or "",
            achievement_id if isinstance(achievement_id, str) else None, signer.key_id if signer else None,
            signing_time(document), title if isinstance(title, str) else "", signature, _window_state(document, now),
            fresh)


def _foreign_checks(model: ReadModel, verdicts: Verdicts, issuer_id: str, achievement_id: str | None,
                    key_id: str | None, moment: dt.datetime | None, title: str, signature: Check,
                    window: int, fresh: bool) -> tuple[list[Check], Summary]:
    achievement = _achievement(model, achievement_id)
    exists = Check("exists", UNKNOWN, "not_in_ledger", "the ledger has no record of this credential")
    integrity = (Check("integrity", PASS, "proof_verified") if signature.status == PASS
                 else Check("integrity", FAIL, "unverified", "the content could not be authenticated"))
    if moment is None:
        accredited = Check("issuer_accredited", UNKNOWN, "issue_time_unknown")
        key = Check("key_valid", UNKNOWN, "signing_time_unknown")
        summary = summary_of(model, achievement, issuer_id, "", title)
    else:
        # The signer's issuer is the document's (_bind_signer), so one issuer id serves both checks.
        accredited, key, summary = verdicts.signed_at(issuer_id, achievement, key_id, moment, title)
    status = Check("status", UNKNOWN, "not_in_ledger") if fresh else STATUS_UNAVAILABLE
    return [exists, integrity, signature, accredited, key, status, WINDOW_CHECKS[window],
            Check("stack_components", PASS, "not_a_stack")], summary


def signing_time(document: dict[str, Any]) -> dt.datetime | None:
    """The proof's `created` (the first proof's), else `validFrom`, else None."""
    proof = document.get("proof")
    if isinstance(proof, list) and proof:
        proof = proof[0]
    moment = _time(proof.get("created")) if isinstance(proof, dict) else None
    return _time(document.get("validFrom")) if moment is None else moment


def _time(value: Any) -> dt.datetime | None:
    return _parsed_time(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)
def _parsed_time(value: str) -> dt.datetime | None:
    # Documents signed together share their `created` and `validFrom`.
    try:
        return parse_time(value)
    except ValueError:
        return None


def _window_state(document: dict[str, Any], now: int) -> int:
    start, end = _seconds(document.get("validFrom")), _seconds(document.get("validUntil"))
    return window_state(0 if start is None else start, NEVER if end is None else end, now)


def _seconds(value: Any) -> int | None:
    return _parsed_seconds(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)
def _parsed_seconds(value: str) -> int | None:
    moment = _parsed_time(value)
    return None if moment is None else int(moment.timestamp())


def _subject_achievement(document: dict[str, Any]) -> dict[str, Any]:
    subject = document.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    return achievement if isinstance(achievement, dict) else {}


def _achievement(model: ReadModel, achievement_id: str | None) -> Any:
    """The registry's achievement a document names by `achievement_id` (it ends with ours)."""
    if achievement_id is None:
        return None
    last = achievement_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return model.registry.achievements.get(last)


def _identity(identity: Identity | None, salt: str, learner_hash: str) -> Check | None:
    return None if identity is None else identity_check(identity.type, identity.value, salt, learner_hash)


def _document_identity(document: dict[str, Any], identity: Identity) -> Check:
    subject = document.get("credentialSubject")
    found = subject.get("identifier") if isinstance(subject, dict) else None
    objects = [o for o in (found if isinstance(found, list) else [found]) if isinstance(o, dict)]
    checks = [identity_check(identity.type, identity.value, str(o.get("salt", "")), str(o.get("identityHash", "")))
              for o in objects]
    return next((c for c in checks if c.status == PASS), checks[0] if checks else
                Check("identity_match", UNKNOWN, "no_identity_in_credential"))
