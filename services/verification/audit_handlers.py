"""HTTP handlers for the public audit side: chain checks, checkpoints, proofs.

Proofs follow RFC 9162 (hashes base64, as in the transparency-dev formats),
so any standard verifier can check them against a signed checkpoint.
"""

from __future__ import annotations

import base64
from typing import Annotated

import msgspec
from aiohttp import web

from services.verification.logtree import LOG_TREE_KEY
from shared.events import PUBLIC_EVENT_TYPES
from shared.http.body import json_response
from shared.http.inputs import MAX_POSITION, int_param
from shared.http.problem import Problem, bad_request, not_found
from shared.ledger.eventstore import readers as ledger_readers
from shared.ledger.eventstore.chain import entry_bytes
from shared.ledger.eventstore.events import RecordedEvent
from shared.ledger.transparency import readers as log_readers
from shared.ledger.transparency.audit import verify_chain
from shared.ledger.transparency.leaf import event_leaf
from shared.ledger.transparency.merkle import leaf_hash
from shared.ledger.transparency.signed_note import TlogProof
from shared.service import POOL_KEY

Position = Annotated[int, msgspec.Meta(ge=1, le=MAX_POSITION, description="a ledger position")]


class AuditVerifyRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    from_position: Position = 1
    to_position: Position | None = None


class LogKeys(msgspec.Struct):
    vkeys: list[str]


class LedgerEntry(msgspec.Struct, omit_defaults=True):
    position: int
    leaf: str  # base64 of the v2 leaf bytes, the Merkle leaf input (docs/ledger-format.md)
    leaf_hash: str
    prev_hash: str
    hash: str
    # base64 of the entry bytes, for registry events only: anything that
    # concerns a learner is disclosed as the leaf's digests alone.
    entry: str | None = None


class InclusionProof(msgspec.Struct):
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyProof(msgspec.Struct):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _tree_size(request: web.Request, name: str = "tree_size") -> int:
    log_tree = request.app[LOG_TREE_KEY]
    size = int_param(request, name, low=1, default=log_tree.size)
    if size > log_tree.size:
        raise Problem(404, "tree-size-unknown", "Tree size not reached",
                      f"this replica has {log_tree.size} entries; {name} {size} is beyond it")
    return size


async def audit_verify(request: web.Request, body: AuditVerifyRequest) -> web.Response:
    async with request.app[POOL_KEY].acquire() as conn:
        result = await verify_chain(conn, body.from_position, body.to_position)
    return json_response(result)


async def latest_checkpoint(request: web.Request) -> web.Response:
    note = await log_readers.latest_checkpoint(request.app[POOL_KEY])
    if note is None:
        raise not_found("no checkpoint has been published yet")
    return web.Response(text=note, content_type="text/plain", headers={"Cache-Control": "no-cache"})


async def checkpoint_at(request: web.Request) -> web.Response:
    size = int_param(request, "size", low=1)
    note = await log_readers.checkpoint_of_size(request.app[POOL_KEY], size)
    if note is None:
        raise not_found(f"there is no checkpoint of tree size {size}")
    return web.Response(text=note, content_type="text/plain",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})


async def log_keys(request: web.Request) -> web.Response:
    return json_response(LogKeys(await log_readers.log_keys(request.app[POOL_KEY])))


async def _recorded(request: web.Request, position: int) -> RecordedEvent:
    event = await ledger_readers.entry_at(request.app[POOL_KEY], position)
    if event is None:
        raise not_found(f"there is no ledger position {position}")
    return event


async def ledger_entry(request: web.Request) -> web.Response:
    event = await _recorded(request, int_param(request, "position", low=1))
    leaf = event_leaf(event)
    entry = None
    if event.event_type in PUBLIC_EVENT_TYPES:
        entry = _b64(entry_bytes(event.position, event.stream_id, event.version, event.event_type,
                                 bytes(event.payload), bytes(event.metadata)))
    return json_response(LedgerEntry(event.position, _b64(leaf), _b64(leaf_hash(leaf)),
                                     _b64(event.prev_hash), _b64(event.hash), entry))


def _inclusion(request: web.Request) -> InclusionProof:
    size = _tree_size(request)
    position = int_param(request, "position", low=1)
    if not 1 <= position <= size:
        raise bad_request(f"position must be between 1 and the tree size {size}")
    tree = request.app[LOG_TREE_KEY].tree
    index = position - 1
    return InclusionProof(
        position, index, size, _b64(tree.leaf(index)), _b64(tree.root(size)),
        [_b64(h) for h in tree.inclusion_proof(index, size)],
    )


async def inclusion_proof(request: web.Request) -> web.Response:
    return json_response(_inclusion(request))


async def consistency_proof(request: web.Request) -> web.Response:
    second = _tree_size(request, "second")
    first = int_param(request, "first", low=1)
    if not 1 <= first <= second:
        raise bad_request("first must be between 1 and second")
    tree = request.app[LOG_TREE_KEY].tree
    return json_response(ConsistencyProof(
        first, second, _b64(tree.root(first)), _b64(tree.root(second)),
        [_b64(h) for h in tree.consistency_proof(first, second)],
    ))


async def tlog_proof(request: web.Request) -> web.Response:
    """The C2SP tlog-proof bundle for one entry, against the latest checkpoint
    that includes it and that this replica has reached; its extra data is the
    entry's leaf, which binds a credential document's digest to the proof."""
    position = int_param(request, "position", low=1)
    log_tree = request.app[LOG_TREE_KEY]
    covering = await log_readers.covering_checkpoint(request.app[POOL_KEY], position, log_tree.size)
    if covering is None:
        raise not_found(f"no published checkpoint covers position {position} yet")
    tree_size, signed_note = covering
    event = await _recorded(request, position)
    proof = log_tree.tree.inclusion_proof(position - 1, tree_size)
    # The leaf rides in `extra`, so a holder can match its document digest.
    bundle = TlogProof(position - 1, tuple(proof), signed_note, extra=event_leaf(event))
    return web.Response(text=bundle.to_text(), content_type="text/plain")
