"""Issuer-signed credentials: signed in the university's own system, checked
here against the registry before they are recorded.

Accepted only when every one of these holds, each failure a 4xx that says
which: an OpenBadgeCredential in the VC 2.0 + OB 3.0 contexts with a
urn:uuid id; issued by the calling issuer's DID; for an approved achievement
of that issuer, which it is accredited for now; naming the learner by a
hashed IdentityObject; with an eddsa-rdfc-2022 or eddsa-jcs-2022 proof, or
a set of both, by one of the issuer's own (issuer_held) keys that was valid
when each proof was created and has no compromise on record (a stolen key
could otherwise backdate `created`); and signatures that all verify.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from services.issuance import store
from services.issuance.context import IssuanceContext
from services.issuance.document import STANDARD_CONTEXTS
from services.issuance.eligibility import authorise, registered_issuer
from services.issuance.learners import Learner, rekeyings
from services.issuance.schemas import ItemOutcome, LearnerIdentity
from services.issuance.signing import allocate_entries
from services.issuance.store import CredentialRow
from shared.auth import token_hash
from shared.credential_format import document_hash, parse_credential_id, split_verification_method
from shared.crypto import proof_set
from shared.crypto.eddsa_jcs import ed25519_verify
from shared.crypto.jcs import canonicalize
from shared.events.credentials import CredentialIssued, StatusEntry, credential_stream
from shared.jsonld.contexts import ContextLoader
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, AppendConflict, NewEvent
from shared.ob3_objects import achievement_id_from_url
from shared.refusals import Conflict, Forbidden, Invalid
from shared.registry_state import IssuerKey, RegistryState
from shared.timeutil import format_time, now, parse_time

IDENTITY_TYPES = ("emailAddress", "nationalIdentityNumber")
_IDENTITY_HASH = re.compile(r"^sha256\$[0-9a-f]{64}$")
# How far in the future a proof's `created` may lie (clock skew).
CLOCK_SKEW = dt.timedelta(minutes=5)


def malformed(detail: str) -> Invalid:
    return Invalid(detail,
                   code="credential-malformed", title="The signed credential is not an acceptable OpenBadgeCredential")


@dataclass(frozen=True, slots=True)
class Submission:
    credential_id: str
    achievement_id: str
    key: IssuerKey
    learner: Learner
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    canonical: bytes


def examine(state: RegistryState, issuer_id: str, document: dict[str, Any], public_base_url: str,
            moment: dt.datetime, learner_of: Callable[[str], Learner]) -> Submission:
    """Check a submitted credential; return what recording it needs.

    `learner_of(salt)` is the learner sent beside the document, hashed with that salt.
    """
    issuer = registered_issuer(state, issuer_id)
    _check_shape(document)
    credential_id = _credential_id(document.get("id"))
    _check_issuer(document.get("issuer"), issuer.event.did, issuer_id)
    subject = _object(document.get("credentialSubject"), "credentialSubject")
    achievement = _object(subject.get("achievement"), "credentialSubject.achievement")
    achievement_id = achievement_id_from_url(public_base_url, str(achievement.get("id", "")))
    if achievement_id is None:
        raise malformed(f"credentialSubject.achievement.id must be a registry achievement URL"
                        f" ({public_base_url.rstrip('/')}/achievements/<id>)")
    authorise(state, issuer_id, achievement_id, moment, hosted=False)
    learner = _learner(subject.get("identifier"), learner_of)
    valid_from, valid_until = _validity(document)
    key = _proof_key(state, issuer_id, issuer.event.did, document, moment, public_base_url)
    return Submission(credential_id, achievement_id, key, learner, valid_from, valid_until, _canonical(document))


def _check_shape(document: dict[str, Any]) -> None:
    context = document.get("@context")
    if not isinstance(context, list) or context[:2] != STANDARD_CONTEXTS:
        raise malformed(f"@context must start with {STANDARD_CONTEXTS}")
    types = document.get("type")
    if not isinstance(types, list) or not {"VerifiableCredential", "OpenBadgeCredential"} <= set(types):
        raise malformed("type must include VerifiableCredential and OpenBadgeCredential")


def _credential_id(value: Any) -> str:
    # A document's id is a URI: the bare UUID a path or a form may take is not one.
    if isinstance(value, str) and value.startswith("urn:uuid:") and (parsed := parse_credential_id(value)):
        return parsed
    raise malformed(f"id must be a urn:uuid, not {value!r}")


def _check_issuer(value: Any, did: str, issuer_id: str) -> None:
    issuer = value.get("id") if isinstance(value, dict) else value
    if issuer != did:
        raise Forbidden(f"the credential's issuer is {issuer!r}; this API key is issuer {issuer_id} ({did})",
                        code="issuer-mismatch", title="The credential names another issuer")


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise malformed(f"{name} must be an object")
    return value


def _learner(value: Any, learner_of: Callable[[str], Learner]) -> Learner:
    identities = value if isinstance(value, list) else []
    hashed = [i for i in identities if isinstance(i, dict) and i.get("type") == "IdentityObject"]
    if len(hashed) != 1:
        raise malformed("credentialSubject.identifier must hold exactly one IdentityObject")
    identity = hashed[0]
    if identity.get("hashed") is not True or not _IDENTITY_HASH.match(str(identity.get("identityHash"))):
        raise malformed("the IdentityObject must be hashed: identityHash 'sha256$' + 64 lowercase hex digits")
    if identity.get("identityType") not in IDENTITY_TYPES or not isinstance(identity.get("salt"), str):
        raise malformed(f"the IdentityObject needs identityType in {IDENTITY_TYPES} and a salt")
    learner = learner_of(identity["salt"])
    if (learner.identity_type, learner.learner_hash) != (identity["identityType"], identity["identityHash"]):
        raise Invalid("identityType and identityHash must be those of `learner` hashed with the document's salt",
                      code="learner-identity-mismatch", title="The IdentityObject does not name the given learner")
    return learner


def _moment(document: dict[str, Any], name: str) -> dt.datetime:
    try:
        return parse_time(str(document[name]))
    except (KeyError, ValueError):
        raise malformed(f"{name} must be an RFC 3339 date-time with a time zone") from None


def _validity(document: dict[str, Any]) -> tuple[dt.datetime, dt.datetime | None]:
    valid_from = _moment(document, "validFrom")
    valid_until = _moment(document, "validUntil") if "validUntil" in document else None
    if valid_until is not None and valid_until <= valid_from:
        raise malformed("validUntil must be after validFrom")
    return valid_from, valid_until


def _proof_key(state: RegistryState, issuer_id: str, did: str, document: dict[str, Any],
               moment: dt.datetime, public_base_url: str) -> IssuerKey:
    prepared = proof_set.prepare_proof_set(document, ContextLoader(public_base_url))
    method = proof_set.verification_method_of(prepared) if prepared else None
    proofs = proof_set.proofs_of(document) or []
    if method is None or not proofs:
        raise malformed(f"proof must be a proof, or a set of proofs by one key, each {proof_set.SUPPORTED}"
                        " (assertionMethod) with verificationMethod, created and proofValue; RDF-canonicalized"
                        " proofs also need every @context to be one the platform bundles")
    key = issuer_held_key(state, issuer_id, did, method, _moment(proofs[0], "created"), moment)
    for proof in proofs[1:]:
        _check_key_window(key, _moment(proof, "created"), moment)
    if not all(ed25519_verify(key.public_key, one.signature, one.hash_data) for one in prepared):  # type: ignore[union-attr]
        raise Invalid(f"a proof does not verify with {method}: the credential was"
                      " changed after it was signed, or signed with another key",
                      code="signature-invalid", title="The signature does not verify")
    return key


def issuer_held_key(state: RegistryState, issuer_id: str, did: str, method: str, created: dt.datetime,
                    moment: dt.datetime) -> IssuerKey:
    """The issuer's own (issuer_held) key that `method` names, if it may sign at `created`.

    Shared by issuer-signed credentials and the Kafka intake's signed commands:
    both authenticate the issuer by a key it registered and holds itself.
    """
    method_did, key_id = split_verification_method(method)
    key = state.key(issuer_id, key_id) if method_did == did else None
    if key is None or key.custody != "issuer_held":
        raise Invalid(f"{method} is not one of {issuer_id}'s own (issuer_held) keys",
                      code="unknown-signing-key", title="The proof names no key of this issuer")
    _check_key_window(key, created, moment)
    return key


def _check_key_window(key: IssuerKey, created: dt.datetime, moment: dt.datetime) -> None:
    if created > moment + CLOCK_SKEW:
        raise Invalid(f"proof.created {created.isoformat()} is later than now",
                      code="proof-in-future", title="The proof was created in the future")
    if key.compromised_at is not None:
        raise Invalid(f"key {key.key_id} was reported compromised at {key.compromised_at.isoformat()};"
                      " new credentials signed with it are not accepted",
                      code="key-compromised", title="The signing key is compromised")
    if key.problem_at(created) is not None:
        window = f"{key.valid_from.isoformat()} to {key.valid_until.isoformat() if key.valid_until else 'open'}"
        raise Invalid(f"key {key.key_id} is valid {window}; the proof was created {created.isoformat()}",
                      code="key-outside-validity", title="The key was not valid when the proof was created")


def _canonical(document: dict[str, Any]) -> bytes:
    try:
        return canonicalize(document)
    except (ValueError, TypeError) as exc:  # rfc8785's errors are ValueErrors
        raise malformed(f"the credential cannot be put in RFC 8785 form: {exc}") from None


class _ReferenceRaced(Exception):
    """A concurrent request claimed the reference first."""


async def record_issuer_signed(
    ctx: IssuanceContext, metadata: Metadata, reference: str, document: dict[str, Any], identity: LearnerIdentity,
) -> ItemOutcome:
    moment = now().replace(microsecond=0)
    submission = examine(ctx.state, metadata.tenant, document, ctx.public_base_url, moment,
                         lambda salt: ctx.secrets.learner(identity, salt))
    previous = await _previous(ctx.pool, metadata.tenant, reference, submission)
    if previous is not None:
        return previous
    row = CredentialRow(
        credential_id=submission.credential_id, issuer_id=metadata.tenant, issuer_reference=reference,
        achievement_id=submission.achievement_id, learner_hash=submission.learner.learner_hash,
        learner_key=submission.learner.learner_key, identity_type=submission.learner.identity_type,
        identity_salt=submission.learner.salt,
        holder_token_hash=token_hash(ctx.secrets.holder_token(submission.credential_id)),
        key_id=submission.key.key_id, signing="issuer_signed", pathway_id=None,
        valid_from=submission.valid_from, valid_until=submission.valid_until,
    )
    try:
        position = await _persist(ctx, metadata, row, submission, moment)
    except _ReferenceRaced:
        return await _previous(ctx.pool, metadata.tenant, reference, submission)  # type: ignore[return-value]
    ctx.metrics.credentials.labels("issuer_signed", "issued").inc()
    return ItemOutcome(index=0, reference=reference, outcome="issued", credential_id=row.credential_id,
                       position=position, learner_hash=row.learner_hash, learner_key=row.learner_key)


async def _previous(
    db: store.Executor, issuer_id: str, reference: str, submission: Submission,
) -> ItemOutcome | None:
    """The outcome of an earlier submission with this reference or credential id, if any."""
    taken = (await store.references_taken(db, issuer_id, [reference])).get(reference)
    if taken is not None:
        if taken.credential_id != submission.credential_id:
            raise Conflict(f"reference {reference!r} was already used for credential {taken.credential_id}",
                           code="reference-conflict", title="The reference identifies another credential")
        positions = await store.issued_positions(db, [taken.credential_id])
        return ItemOutcome(index=0, reference=reference, outcome="existing", credential_id=taken.credential_id,
                           position=positions.get(taken.credential_id), learner_hash=taken.learner_hash,
                           learner_key=submission.learner.learner_key)
    if await store.credential(db, submission.credential_id) is not None:
        raise Conflict(f"{submission.credential_id} was recorded under another reference",
                       code="credential-exists", title="The credential id is already recorded")
    return None


async def _persist(ctx: IssuanceContext, metadata: Metadata, row: CredentialRow, submission: Submission,
                   moment: dt.datetime) -> int:
    stream = credential_stream(row.credential_id)
    try:
        async with ctx.pool.acquire() as conn, conn.transaction():
            # Entries the document cannot name (it was signed before they
            # existed) but the revocation service still flips and publishes.
            [status] = await allocate_entries(conn, row.issuer_id, 1)
            await store.rekey_learners(conn, rekeyings([submission.learner]))
            if not await store.claim_credentials(conn, [row]):
                raise _ReferenceRaced()
            await ctx.contacts.remember(conn, [submission.learner])
            event = _issued(row, status, submission.canonical, moment)
            [position] = await ctx.ledger.append_in(conn, [NewEvent(stream, event)], metadata, {stream: NO_STREAM})
    except (asyncpg.UniqueViolationError, AppendConflict):
        raise Conflict(f"{row.credential_id} was recorded by a concurrent request",
                       code="credential-exists", title="The credential id is already recorded") from None
    return position


def _issued(row: CredentialRow, status: list[StatusEntry], canonical: bytes, moment: dt.datetime) -> CredentialIssued:
    return CredentialIssued(
        credential_id=row.credential_id, issuer_id=row.issuer_id,
        achievement_id=row.achievement_id, key_id=row.key_id, learner_hash=row.learner_hash,
        issued_at=format_time(moment),
        valid_from=format_time(row.valid_from), valid_until=format_time(row.valid_until) if row.valid_until else None,
        issuer_reference=row.issuer_reference, status=status, signing="issuer_signed",
        document_hash=document_hash(canonical), document=msgspec.Raw(canonical),
        holder_token_hash=row.holder_token_hash,
    )
