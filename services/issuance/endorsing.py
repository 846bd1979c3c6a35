"""Endorsements: an organisation the registry lists as an endorser (an
employer) signs an Open Badges 3.0 EndorsementCredential about a learner's
credential or a workplace-learning record, with its hosted key and the
platform's proof set (eddsa-rdfc-2022 and eddsa-jcs-2022), recorded in the
ledger like a credential so the verification service answers for it.

An issuer's recognition of prior learning cites the endorsement as the
evidence of what was learnt at work (docs/recognition.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from services.issuance import store
from services.issuance.context import IssuanceContext
from shared.auth import Principal
from shared.credential_format import (
    OB_CONTEXT,
    VC_CONTEXT,
    new_credential_id,
    required_credential_id,
    verification_method,
)
from shared.crypto.eddsa_jcs import signing_key_from_seed
from shared.crypto.proof_set import ProofSetSigner
from shared.events.credentials import credential_stream
from shared.events.endorsements import EndorsementIssued
from shared.jsonld.contexts import ContextLoader
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import NO_STREAM, NewEvent
from shared.refusals import Conflict, Forbidden, Invalid, NotFound
from shared.registry_state import Issuer
from shared.timeutil import format_time, now

log = logging.getLogger(__name__)


class EndorseRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # A credential id (urn:uuid:...) of this platform, or the https URL of a workplace-learning record.
    subject_id: Annotated[str, Meta(min_length=1, max_length=2000)]
    comment: Annotated[str, Meta(max_length=4000)]
    name: Annotated[str, Meta(max_length=500)] = ""


class Endorsed(msgspec.Struct, kw_only=True):
    credential_id: str
    position: int
    endorsement: dict[str, Any]


def endorser_of(ctx: IssuanceContext, endorser_id: str) -> Issuer:
    if endorser_id not in ctx.state.endorsers or endorser_id not in ctx.state.issuers:
        raise Forbidden(f"{endorser_id!r} is not registered as an endorser; an agency registers it"
                        " (POST /v1/endorsers on the registry)", code="not-an-endorser",
                        title="Not registered as an endorser")
    return ctx.state.issuers[endorser_id]


async def _subject(ctx: IssuanceContext, subject_id: str) -> str:
    if subject_id.startswith("https://"):
        return subject_id
    credential_id = required_credential_id(subject_id)
    if await store.credential(ctx.pool, credential_id) is None:
        raise NotFound(f"there is no credential {credential_id}")
    return credential_id


def document_of(endorser: Issuer, credential_id: str, subject_id: str, request: EndorseRequest,
                issued_at: str) -> dict[str, Any]:
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "name": request.name or f"Endorsement by {endorser.event.legal_name}",
        "issuer": {"id": endorser.event.did, "type": ["Profile"], "name": endorser.event.legal_name},
        "validFrom": issued_at,
        "credentialSubject": {"id": subject_id, "type": ["EndorsementSubject"],
                              "endorsementComment": request.comment},
    }


async def endorse(ctx: IssuanceContext, principal: Principal, request: EndorseRequest, request_id: str) -> Endorsed:
    if not request.comment.strip():
        raise Invalid("comment must say what the endorser vouches for")
    endorser = endorser_of(ctx, principal.tenant_id)
    moment = now().replace(microsecond=0)
    key = ctx.state.signing_key_at(endorser.issuer_id, moment, "hosted")
    if key is None:
        raise Conflict(f"{endorser.issuer_id} has no hosted signing key valid now", code="no-signing-key",
                       title="No usable signing key")
    subject_id = await _subject(ctx, request.subject_id)
    credential_id, issued_at = new_credential_id(), format_time(moment)
    signer = ProofSetSigner(signing_key_from_seed(await ctx.keyring.seed(endorser.issuer_id, key.key_id)),
                            verification_method(endorser.event.did, key.key_id), issued_at,
                            ContextLoader(ctx.public_base_url))
    # RDFC canonicalisation is CPU work: off the event loop.
    secured = await asyncio.to_thread(signer.secure, document_of(endorser, credential_id, subject_id, request,
                                                                 issued_at))
    event = EndorsementIssued(credential_id=credential_id, endorser_id=endorser.issuer_id, key_id=key.key_id,
                              subject_id=subject_id, issued_at=issued_at,
                              document_hash=hashlib.sha256(secured).hexdigest(), document=msgspec.Raw(secured))
    stream = credential_stream(credential_id)
    [position] = await ctx.ledger.append([NewEvent(stream, event)],
                                         Metadata(actor=principal.client_id, tenant=endorser.issuer_id,
                                                  request_id=request_id), {stream: NO_STREAM})
    log.info("endorsement issued", extra={"credential_id": credential_id, "endorser_id": endorser.issuer_id,
                                          "position": position})
    return Endorsed(credential_id=credential_id, position=position, endorsement=msgspec.json.decode(secured))
