"""Verifying a batch of items: the one code path of the API and of jobs.

Items come out in the order they went in, each as its encoded JSON answer.
Ids found in a current read model take the prebuilt-fragment path, and so
do well-formed UUID ids it does not hold (not found); every other item
builds its checks, and all signatures a batch needs are verified
together after the JSON work is done.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
from prometheus_client import Counter

from services.verification.cpu_step import QUANTUM, CpuStep
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
    FRAGMENT_PREFIX,
    ORIGIN_CHECKS,
    UNKNOWN,
    Verdicts,
    identity_check,
    verdict_of,
    window_state,
    window_states,
)
from shared.credential_format import parse_credential_id
from shared.crypto.eddsa_rdfc import ProofHashes
from shared.jsonld.contexts import ContextLoader
from shared.refusals import Invalid, Malformed

_ENCODER = msgspec.json.Encoder()
_encode = _ENCODER.encode
Entry = VerificationItem | ItemProblem
_URN_UUID = "urn:uuid:"
# run_sliced: the CPU a step of a request may use before it yields, by
# _kind of item, so a request waits a few slices of the others each time it
# has to wait at all. Slices of ids are the shorter (cpu_step.QUANTUM): a
# small by-id request waits behind large by-id ones. Slices of documents
# stay at 10 ms (2 ms slices cost ~8 % more per document, round three).
# The first slice of a kind not yet measured is small, and no slice is so
# large that its vectorised id lookup and answers grow without bound.
SLICE_SECONDS = (QUANTUM, 0.01)
FIRST_SLICE = 64
MAX_SLICE = 5000
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")
NOT_FOUND = Check("exists", "fail", "not_found", "no credential with this id was issued through this ledger")
# The answer to a well-formed id of no credential, after its index and id (as verdicts.py cuts fragments).
_NOT_FOUND_FRAGMENT = _encode(ItemResult(index=0, id="", verdict="invalid", checks=[NOT_FOUND]))[
    len(FRAGMENT_PREFIX):]
_NOT_BUILT, _OTHER = -1, -2  # BatchVerifier._fragments: a row whose parts are not built; an item for _slow


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

    async def run_sliced(self, entries: Sequence[Entry], first_index: int = 0, *, plain: bool = False,
                         step: CpuStep | None = None) -> BatchOutcome:
        """Like `run`, yielding to the event loop between slices: a 10,000-item
        request then delays a concurrent small one by a slice, not by itself.

        Slices are sized by CPU time, not by count, because items differ in
        cost by three orders of magnitude: a by-id item takes about a
        microsecond, a document whose eddsa-rdfc-2022 proof is checked several
        milliseconds. A fixed 500 items let one slice of such documents hold
        the loop for seconds, past the broker's session timeout (the
        worker's consumers then left their groups) and past every concurrent
        request's latency budget. Each slice is sized from the measured CPU
        per item of the last slice of its kind to fill what is left of
        SLICE_SECONDS[kind] in this `step` of the task (which may have begun
        before, with the body's decoding); the task yields once a step has
        used it, so a small request runs without yielding at all.
        `plain`: the entries were decoded by jcs.PlainJsonDecoder and found plain."""
        return await self._sliced(len(entries), lambda start: _kind(entries[start]), lambda start, end: self.run(
            entries[start:end], first_index + start, plain=plain), step)

    async def run_ids_sliced(self, ids: list[bytes], keys: np.ndarray, step: CpuStep | None = None) -> BatchOutcome:
        """`run_sliced` for a body of nothing but canonical ids (credential_ids.id_body), through `run_ids`."""
        return await self._sliced(len(ids), lambda _: 0, lambda start, end: self.run_ids(
            ids[start:end], keys[start:end], start), step)

    async def _sliced(self, count: int, kind_at: Callable[[int], int],
                      run_part: Callable[[int, int], BatchOutcome], step: CpuStep | None) -> BatchOutcome:
        """`run_part(start, end)` over slices of `count` items, as `run_sliced` says."""
        step = CpuStep() if step is None else step
        outcome = BatchOutcome([])
        start = 0
        while start < count:
            kind = kind_at(start)
            quantum = SLICE_SECONDS[kind]
            # Less than a quarter quantum left: yield first, rather than run a sliver of a slice.
            await step.yield_if_spent(quantum * 0.75)
            began = time.thread_time()
            part = run_part(start, start + self._slice_size(kind, quantum - (began - step.began)))
            self._seconds_per_item[kind] = (time.thread_time() - began) / len(part.answers)
            outcome.answers += part.answers
            for verdict, n in part.counts.items():
                outcome.counts[verdict] += n
            start += len(part.answers)
        return outcome

    def _slice_size(self, kind: int, budget: float) -> int:
        """Items for about `budget` seconds of CPU, from the last slice of this
        kind of item, whichever request it served: a small request then runs
        in one slice from its start, rather than yielding after FIRST_SLICE
        items and waiting behind the other requests' slices for the rest."""
        cost = self._seconds_per_item[kind]
        return FIRST_SLICE if cost is None else max(1, min(MAX_SLICE, int(budget / max(cost, 1e-7))))

    def fresh(self) -> bool:
        return self.freshness.is_fresh(self.model.position)

    def run(self, entries: Sequence[Entry], first_index: int = 0, now: int | None = None, *,
            plain: bool = False) -> BatchOutcome:
        now = int(time.time()) if now is None else now
        fresh = self.fresh()
        outcome = BatchOutcome([b""] * len(entries))
        answers, counts = outcome.answers, outcome.counts
        others = self._plain_ids(entries, first_index, now, outcome) if fresh else range(len(entries))
        submitted: list[Submitted] = []
        for offset in others:
            result = self._slow(entries[offset], first_index + offset, now, fresh, submitted, plain)
            if result is not None:
                answers[offset] = self._count(result, counts)
        self._signatures.verify(submitted)
        for item in submitted:
            answers[item.index - first_index] = self._count(
                finish(self.model, self.verdicts, item, now, fresh=fresh), counts)
        return outcome

    def run_ids(self, ids: list[bytes], keys: np.ndarray, first_index: int = 0, now: int | None = None
                ) -> BatchOutcome:
        """`run` for plain lookups of canonical ids given as their ASCII bytes
        and keys (credential_ids.id_body): the same answers, without an entry
        or a string per id, each answer one bytes format."""
        now = int(time.time()) if now is None else now
        if not self.fresh():
            return self.run([VerificationItem(id=cid.decode("ascii")) for cid in ids], first_index, now)
        outcome = BatchOutcome([])
        rows = self.model.credentials.find_keys(keys)
        fragment_at, fragments = self._fragments(rows, np.ones(len(ids), dtype=bool), now, outcome.counts)
        # _NOT_BUILT (-1) picks the last fragment here; those answers are made again just below.
        outcome.answers = [b'{"index":%d,"id":"%b",%b' % answer for answer in zip(
            range(first_index, first_index + len(ids)), ids, map(fragments.__getitem__, fragment_at.tolist()),
            strict=True)]
        for offset in np.flatnonzero(fragment_at == _NOT_BUILT).tolist():
            outcome.answers[offset] = self._first_answer(
                ids[offset].decode("ascii"), int(rows[offset]), first_index + offset, now, outcome.counts)
        return outcome

    def _plain_ids(self, entries: Sequence[Entry], first_index: int, now: int, outcome: BatchOutcome) -> list[int]:
        """Answers the plain id lookups of a current model, the hot path: each
        answer costs one bytes format, all else is gathered for the whole
        slice at once (`_fragments`). Returns the offsets of the other entries,
        in order."""
        ids = [entry.id if type(entry) is VerificationItem and entry.credential is None and entry.jwt is None
               and entry.identity is None else None for entry in entries]
        rows, canonical = self.model.credentials.find_rows(
            ids if None not in ids else [cid or "" for cid in ids])  # type: ignore[arg-type]
        if None in ids:
            rows[[offset for offset, cid in enumerate(ids) if cid is None]] = -1
        fragment_at, fragments = self._fragments(rows, canonical, now, outcome.counts)
        answered = np.flatnonzero(fragment_at >= 0)
        answered_offsets = answered.tolist()
        formatted = [b'{"index":%d,"id":%b,%b' % (first_index + offset, _encode(ids[offset]), fragments[at])
                     for offset, at in zip(answered_offsets, fragment_at[answered].tolist(), strict=True)]
        answers = outcome.answers
        if len(formatted) == len(entries):
            answers[:] = formatted
            return []
        for offset, answer in zip(answered_offsets, formatted, strict=True):
            answers[offset] = answer
        for offset in np.flatnonzero(fragment_at == _NOT_BUILT).tolist():
            answers[offset] = self._first_answer(
                ids[offset], int(rows[offset]), first_index + offset, now, outcome.counts)  # type: ignore[arg-type]
        return np.flatnonzero(fragment_at == _OTHER).tolist()

    def _fragments(self, rows: np.ndarray, canonical: np.ndarray, now: int, counts: dict[str, int]
                   ) -> tuple[np.ndarray, list[bytes]]:
        """Per entry, which of `fragments` follows its index and id (or
        _NOT_BUILT, _OTHER), counting their verdicts: the fragment of its row's
        parts (when built) and window state, or for a well-formed UUID id of
        no row the not-found one. Taken from the pool before any row's parts
        are built (building may clear the pool)."""
        table = self.model.credentials
        found = np.flatnonzero(rows >= 0)
        parts = table.parts_of(rows[found])
        built = parts >= 0
        ready = found[built]
        used, which = np.unique(parts[built] * 3 + window_states(
            table.valid_from, table.valid_until, rows[ready], now), return_inverse=True)
        used_parts = [(table.parts_pool[code // 3], code % 3) for code in used.tolist()]
        for (parts_used, state), n in zip(used_parts, np.bincount(which, minlength=len(used)).tolist(), strict=True):
            counts[parts_used.verdicts[state]] += n
        fragment_at = np.full(len(rows), _OTHER, dtype=np.int64)
        fragment_at[found[~built]] = _NOT_BUILT
        fragment_at[ready] = which
        absent = canonical & (rows < 0)
        fragment_at[absent] = len(used)
        counts["invalid"] += int(absent.sum())
        return fragment_at, [parts_used.fragments[BY_ID][state] for parts_used, state in used_parts] + [
            _NOT_FOUND_FRAGMENT]

    def _first_answer(self, credential_id: str, row: int, index: int, now: int, counts: dict[str, int]) -> bytes:
        """The answer to a plain id whose row's parts are not built yet (building them)."""
        table = self.model.credentials
        parts = self.verdicts.parts(credential_id, CredentialRecord(table, row))
        state = window_state(table.valid_from[row], table.valid_until[row], now)
        counts[parts.verdicts[state]] += 1
        return b'{"index":%d,"id":%b,%b' % (index, _encode(credential_id), parts.fragments[BY_ID][state])

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
            exists = NOT_FOUND if fresh else Check("exists", UNKNOWN, "status_source_unavailable")
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
