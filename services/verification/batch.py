"""Verifying a batch of items: the one code path of the API and of jobs.

Items come out in the order they went in, each as its encoded JSON answer.
Ids found in a current read model take the prebuilt-fragment path; every
other item builds its checks, and all signatures a batch needs are verified
together after the JSON work is done.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from prometheus_client import Counter

from services.verification.documents import (
    Ed25519Batch,
    SignerKeys,
    Submitted,
    canonical_digest,
    finish,
    prepare_document,
    prepare_jwt,
)
from services.verification.freshness import Freshness
from services.verification.model import CredentialRecord, ReadModel
from services.verification.schemas import Check, ItemProblem, ItemResult, VerificationItem
from services.verification.verdicts import (
    AS_ISSUED,
    BY_ID,
    ORIGIN_CHECKS,
    UNKNOWN,
    Verdicts,
    identity_check,
    verdict_of,
    window_state,
)
from shared.credential_format import parse_credential_id
from shared.crypto.eddsa_rdfc import ProofHashes
from shared.jsonld.contexts import ContextLoader
from shared.refusals import Invalid, Malformed

_ENCODER = msgspec.json.Encoder()
_encode = _ENCODER.encode
Entry = VerificationItem | ItemProblem
_URN_UUID = "urn:uuid:"
# run_sliced: the loop is held about this long between yields, by _kind of
# item, so a request waits a few slices of the others each time it has to
# wait at all. Slices of ids are the shorter: a small by-id request waits
# behind large by-id ones. Shorter still costs throughput (in process, the
# same 10,000-id requests alternated: 3 ms slices ~20 % more CPU per id than
# 10 ms ones, 5 ms not measurably more; 2 ms slices of documents ~8 % more
# per document than 10 ms). The first slice of a kind not yet measured is
# small, and no slice is so large that its vectorised id lookup and answers
# grow without bound.
SLICE_SECONDS = (0.005, 0.01)
FIRST_SLICE = 64
MAX_SLICE = 5000
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")


def item_problem(detail: str, *, malformed: bool = False) -> ItemProblem:
    """Why one item cannot be checked: it cannot be read at all (`malformed`), or its content is unacceptable."""
    refusal = Malformed(detail, title="The item is malformed") if malformed else Invalid(
        detail, title="The item failed validation")
    return ItemProblem.of(refusal)


def id_problem(credential_id: str) -> str | None:
    """Why `credential_id` cannot name any credential, or None.

    This ledger's ids are `urn:uuid:` UUIDs; other URIs may name credentials
    issued elsewhere (then `not_found` is the answer). Anything else is a
    typo or a wrong column, which the employer needs to hear as such.
    """
    if credential_id.lower().startswith(_URN_UUID):
        if parse_credential_id(_URN_UUID + credential_id[len(_URN_UUID):]) is None:
            return f"'id' is not a credential id: {_shown(credential_id)} is not urn:uuid: followed by a UUID"
        return None
    if _URI.fullmatch(credential_id) is None:
        return f"'id' is not a credential id: {_shown(credential_id)} is not a URI such as urn:uuid:..."
    return None


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "...")


def _kind(entry: Entry) -> int:
    """0 for a plain id lookup, 1 for anything else (a document, a JWT, a problem)."""
    plain_id = type(entry) is VerificationItem and entry.credential is None and entry.jwt is None
    return 0 if plain_id else 1


def record_verdicts(counter: Counter, counts: dict[str, int]) -> None:
    """Add a batch's verdicts to `verification_items_total` (once per batch, not per item)."""
    for verdict, n in counts.items():
        if n:
            counter.labels(verdict).inc(n)


@dataclass
class BatchOutcome:
    answers: list[bytes]
    counts: dict[str, int] = field(default_factory=lambda: {"valid": 0, "invalid": 0, "unknown": 0})


class BatchVerifier:
    """Verifies items; `run` for one slice, `run_sliced` for a request that must
    share the event loop with others."""

    def __init__(self, model: ReadModel, freshness: Freshness, loader: ContextLoader) -> None:
        self.model = model
        self.freshness = freshness
        self.proof_hashes = ProofHashes(loader)
        self.verdicts = Verdicts(model)
        self._signatures = Ed25519Batch()
        self._signers = SignerKeys(model)
        # Seconds per item of the last slice, by _kind: ids cost about a
        # microsecond, submitted documents a hundred times more.
        self._seconds_per_item: list[float | None] = [None, None]

    async def run_sliced(self, entries: Sequence[Entry], first_index: int = 0, *, plain: bool = False) -> BatchOutcome:
        """Like `run`, yielding to the event loop between slices: a 10,000-item
        request then delays a concurrent small one by a slice, not by itself.

        Slices are sized by time, not by count, because items differ in cost
        by three orders of magnitude: a by-id item takes about a microsecond,
        a document whose eddsa-rdfc-2022 proof is checked several
        milliseconds. A fixed 500 items let one slice of such documents hold
        the loop for seconds, past the broker's session timeout (the
        worker's consumers then left their groups) and past every concurrent
        request's latency budget. Each slice is sized from the measured cost
        per item of the last slice of its kind to take about SLICE_SECONDS[kind].
        `plain`: the entries were decoded by jcs.PlainJsonDecoder and found plain."""
        outcome = BatchOutcome([])
        start = 0
        while start < len(entries):
            if start:
                await asyncio.sleep(0)
            kind = _kind(entries[start])
            began = time.perf_counter()
            part = self.run(entries[start:start + self._slice_size(kind)], first_index + start, plain=plain)
            self._seconds_per_item[kind] = (time.perf_counter() - began) / len(part.answers)
            outcome.answers += part.answers
            for verdict, n in part.counts.items():
                outcome.counts[verdict] += n
            start += len(part.answers)
        return outcome

    def _slice_size(self, kind: int) -> int:
        """Items for about SLICE_SECONDS[kind], from the last slice of this kind of
        item, whichever request it served: a small request then runs in one
        slice from its start, rather than yielding after FIRST_SLICE items
        and waiting behind the other requests' slices for the rest."""
        cost = self._seconds_per_item[kind]
        return FIRST_SLICE if cost is None else max(1, min(MAX_SLICE, int(SLICE_SECONDS[kind] / max(cost, 1e-7))))

    def fresh(self) -> bool:
        return self.freshness.is_fresh(self.model.position)

    def run(self, entries: Sequence[Entry], first_index: int = 0, now: int | None = None, *,
            plain: bool = False) -> BatchOutcome:
        now = int(time.time()) if now is None else now
        fresh = self.fresh()
        outcome = BatchOutcome([b""] * len(entries))
        answers, counts = outcome.answers, outcome.counts
        table, verdicts = self.model.credentials, self.verdicts
        parts_of, pool = table.parts, table.parts_pool
        valid_from, valid_until = table.valid_from, table.valid_until
        # Every id of the slice looked up at once (vectorised), before the per-item loop.
        rows = table.rows([entry.id or "" if type(entry) is VerificationItem else "" for entry in entries]) \
            if fresh else []
        submitted: list[Submitted] = []
        for offset, entry in enumerate(entries):
            index = first_index + offset
            # The hot path, inlined (window_state too): a plain id lookup in a current model.
            cid = entry.id if fresh and type(entry) is VerificationItem else None
            if cid is not None and entry.credential is None and entry.jwt is None and entry.identity is None \
                    and (row := rows[offset]) >= 0:  # type: ignore[union-attr]
                part = parts_of[row]
                parts = pool[part] if part >= 0 else verdicts.parts(cid, CredentialRecord(table, row))
                start, end = valid_from[row], valid_until[row]
                state = 0 if start <= now < end else (1 if now < start else 2)
                answers[offset] = b'{"index":%d,"id":%b,%b' % (index, _encode(cid), parts.fragments[BY_ID][state])
                counts[parts.verdicts[state]] += 1
                continue
            result = self._slow(entry, index, now, fresh, submitted, plain)
            if result is not None:
                answers[offset] = self._count(result, counts)
        self._signatures.verify(submitted)
        for item in submitted:
            answers[item.index - first_index] = self._count(
                finish(self.model, verdicts, item, now, fresh=fresh), counts)
        return outcome

    def _count(self, result: ItemResult | tuple[bytes, str], counts: dict[str, int]) -> bytes:
        if isinstance(result, tuple):
            counts[result[1]] += 1
            return result[0]
        counts[result.verdict] += 1
        return _encode(result)

    def _slow(self, entry: Entry, index: int, now: int, fresh: bool, submitted: list[Submitted],
              plain: bool) -> ItemResult | tuple[bytes, str] | None:
        """The answer (or its encoding and verdict), or None when the item joined `submitted` for a signature check."""
        if isinstance(entry, ItemProblem):
            return ItemResult(index=index, verdict="unknown", problem=entry)
        if entry.credential is not None and entry.id is None and entry.jwt is None:  # the most common item here
            return self._document(entry, index, now, fresh, submitted, plain)
        given = [name for name in ("id", "credential", "jwt") if getattr(entry, name) is not None]
        if len(given) != 1:
            return ItemResult(index=index, verdict="unknown", problem=item_problem(
                f"give exactly one of 'id', 'credential' or 'jwt' (got {', '.join(given) or 'none'})"))
        if entry.id is not None:
            return self._by_id(entry, index, now, fresh)
        if entry.credential is not None:
            return self._document(entry, index, now, fresh, submitted, plain)
        try:
            submitted.append(prepare_jwt(self.model, self._signers, index, entry.jwt, entry.identity))  # type: ignore[arg-type]
        except ValueError as exc:
            problem = item_problem(f"'jwt' is not a compact JWS: {exc}")
            return ItemResult(index=index, verdict="unknown", problem=problem)
        return None

    def _by_id(self, entry: VerificationItem, index: int, now: int, fresh: bool) -> ItemResult:
        credential_id = entry.id
        record = self.model.credentials.get(credential_id)  # type: ignore[arg-type]
        if record is None and (malformed := id_problem(credential_id)) is not None:  # type: ignore[arg-type]
            return ItemResult(index=index, verdict="unknown", problem=item_problem(malformed))
        if record is None:
            exists = (Check("exists", "fail", "not_found", "no credential with this id was issued through this ledger")
                      if fresh else Check("exists", UNKNOWN, "status_source_unavailable"))
            return ItemResult(index=index, id=credential_id, verdict="invalid" if fresh else "unknown", checks=[exists])
        return self._ledger_result(entry, index, credential_id, now, fresh, BY_ID)  # type: ignore[arg-type]

    def _document(self, entry: VerificationItem, index: int, now: int, fresh: bool, submitted: list[Submitted],
                  plain: bool) -> ItemResult | tuple[bytes, str] | None:
        document = entry.credential
        credential_id = document.get("id")  # type: ignore[union-attr]
        record = self.model.credentials.get(credential_id) if isinstance(credential_id, str) else None
        if record is not None and canonical_digest(document, plain=plain) == record.document_hash:  # type: ignore[arg-type]
            if fresh and entry.identity is None:
                parts = self.verdicts.parts(credential_id, record)
                state = window_state(record.valid_from, record.valid_until, now)
                answer = b'{"index":%d,"id":%b,%b' % (index, _encode(credential_id), parts.fragments[AS_ISSUED][state])
                return answer, parts.verdicts[state]
            return self._ledger_result(entry, index, credential_id, now, fresh, AS_ISSUED)
        submitted.append(prepare_document(self._signers, self.proof_hashes, index, document,  # type: ignore[arg-type]
                                          entry.identity, record, plain=plain))
        return None

    def _ledger_result(self, entry: VerificationItem, index: int, credential_id: str, now: int, fresh: bool,
                       origin: int) -> ItemResult:
        record = self.model.credentials[credential_id]
        identity = (identity_check(entry.identity.type, entry.identity.value, record.salt, record.learner_hash)
                    if entry.identity else None)
        checks = self.verdicts.checks(credential_id, record, now, ORIGIN_CHECKS[origin], fresh=fresh,
                                      identity=identity)
        return ItemResult(index=index, id=credential_id, verdict=verdict_of(checks),  # type: ignore[arg-type]
                          checks=checks, summary=self.verdicts.summary(record))
