"""Checks and verdicts for credentials the ledger knows.

Everything a verdict needs except the time-dependent validity window is the
same for every request until the credential's status or the registry
changes, so it is computed once per credential and shared: the outcome of
the checks is interned (a million credentials have a handful of distinct
outcomes) and kept as prebuilt JSON fragments, one per window state and per
origin (looked up by id, or submitted as issued), referenced from the
credential's row. An id lookup then costs a hash-table probe, two integer
comparisons and one bytes format.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from services.verification.credential_table import learner_matches
from services.verification.model import (
    ACTIVE,
    FLAGGED,
    NEVER,
    REVOKED,
    STATUS_NAMES,
    CredentialRecord,
    ReadModel,
    StatusNote,
)
from services.verification.schemas import Check, ItemResult, Summary
from shared.credential_format import identity_hash
from shared.registry_state import Achievement

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
IN_WINDOW, NOT_YET_VALID, EXPIRED = 0, 1, 2
BY_ID, AS_ISSUED = 0, 1
FACTS_LIMIT = 100_000

WINDOW_CHECKS = (
    Check("validity_window", PASS, "within_validity_period"),
    Check("validity_window", FAIL, "not_yet_valid"),
    Check("validity_window", FAIL, "expired"),
)
ORIGIN_CHECKS = (
    # By id the ledger's own copy is the document: nothing to compare or re-verify.
    (Check("exists", PASS, "in_ledger"), Check("integrity", PASS, "ledger_record"),
     Check("signature", PASS, "ledger_record")),
    # Byte-for-byte (canonically) the issued document: authentic without a signature check.
    (Check("exists", PASS, "in_ledger"), Check("integrity", PASS, "matches_ledger"),
     Check("signature", PASS, "ledger_record")),
)
STATUS_UNAVAILABLE = Check("status", UNKNOWN, "status_source_unavailable",
                           "the read model is not current with the ledger; status cannot be confirmed")
_ENCODER = msgspec.json.Encoder()
# The fragment is an ItemResult with these two leading fields cut off; the
# hot path writes them itself.
FRAGMENT_PREFIX = b'{"index":0,"id":"",'


def window_state(valid_from: int, valid_until: int, now: int) -> int:
    if valid_from <= now < valid_until:
        return IN_WINDOW
    return NOT_YET_VALID if now < valid_from else EXPIRED


def window_states(valid_from: array, valid_until: array, rows: np.ndarray, now: int) -> np.ndarray:
    """`window_state` of each of `rows` of the (clamped, uint32) validity columns."""
    start = np.frombuffer(valid_from, dtype=np.uint32)[rows]
    end = np.frombuffer(valid_until, dtype=np.uint32)[rows]
    moment = np.int64(now)  # compared as int64 whatever `now` is, as the scalar test compares ints
    return np.where(moment < start, NOT_YET_VALID, np.where(moment < end, IN_WINDOW, EXPIRED))


def verdict_of(checks: Sequence[Check]) -> str:
    statuses = {c.status for c in checks}
    if FAIL in statuses:
        return "invalid"
    return "unknown" if UNKNOWN in statuses else "valid"


def identity_check(kind: str, value: str, salt: str, learner_hash: str) -> Check:
    if not learner_hash:
        return Check("identity_match", UNKNOWN, "no_identity_in_credential")
    if learner_matches(identity_hash(kind, value, salt), learner_hash):
        return Check("identity_match", PASS, "identity_matches")
    return Check("identity_match", FAIL, "identity_mismatch",
                 "the credential was issued to someone else, or the identity is spelled differently")


def public_detail(status: int, note: StatusNote | None) -> str:
    """The status in words anyone may read: by whom, when, and the reason's
    category ("revoked by the issuer on 2026-06-30; reason: misconduct")."""
    if note is None:
        return ""
    by = "the issuer" if note.by_issuer else "the accrediting agency"
    done = "flagged for review" if status == FLAGGED else f"{STATUS_NAMES[status]} by {by}"
    when = f" on {note.on}" if note.on else ""
    return f"{done}{when}; reason: {note.reason_code.replace('_', ' ')}"


def accreditation_check(model: ReadModel, issuer_id: str, achievement: Achievement | None,
                        moment: dt.datetime) -> Check:
    if issuer_id not in model.registry.issuers:
        return Check("issuer_accredited", FAIL, "issuer_unknown", "the issuer is not registered")
    if achievement is None:
        return Check("issuer_accredited", UNKNOWN, "achievement_unknown")
    spec = achievement.spec
    if model.registry.accreditation_for(issuer_id, moment, spec.eqf_level, spec.field) is None:
        return Check("issuer_accredited", FAIL, "not_accredited_at_issue",
                     f"no accreditation covered EQF {spec.eqf_level}, field {spec.field} at {moment:%Y-%m-%d}")
    return Check("issuer_accredited", PASS, "accredited_at_issue")


def endorser_check(model: ReadModel, issuer_id: str) -> Check:
    """An endorsement's signer needs no accreditation, only its registration as an endorser."""
    if issuer_id in model.registry.endorsers:
        return Check("issuer_accredited", PASS, "registered_endorser")
    return Check("issuer_accredited", FAIL, "not_an_endorser", "the signer is not registered as an endorser")


def key_check(model: ReadModel, issuer_id: str, key_id: str, moment: dt.datetime) -> Check:
    key = model.registry.key(issuer_id, key_id)
    if key is None:
        return Check("key_valid", FAIL, "key_unknown", f"{issuer_id} has no key {key_id!r}")
    problem = key.problem_at(moment)
    if problem is not None:
        return Check("key_valid", FAIL, problem)
    return Check("key_valid", PASS, "valid_at_signing")


def summary_of(model: ReadModel, achievement: Achievement | None, issuer_id: str, issued: str,
               fallback_title: str = "") -> Summary:
    issuer = model.issuer_name(issuer_id)
    if achievement is None:
        return Summary(title=fallback_title or "(unknown achievement)", issuer=issuer, issued_on=issued)
    spec = achievement.spec
    return Summary(
        title=spec.title, issuer=issuer, achievement_type=spec.achievement_type, eqf_level=spec.eqf_level,
        credits_ects=spec.workload.ects, hours=spec.workload.hours,
        skills=[s.name for s in spec.skills], issued_on=issued,
    )


class Parts:
    """Prebuilt answer fragments for one outcome, by [origin][window state]."""

    __slots__ = ("fragments", "verdicts")

    def __init__(self, fragments: tuple[tuple[bytes, ...], ...], verdicts: tuple[str, ...]) -> None:
        self.fragments = fragments
        self.verdicts = verdicts


class Verdicts:
    def __init__(self, model: ReadModel) -> None:
        self.model = model
        self._interned: dict[tuple, Parts] = {}
        self._facts: dict[tuple[str, str, str, int], tuple[tuple[Check, Check], str]] = {}
        self._signed: dict[tuple, tuple[Check, Check, Summary]] = {}
        self._fragments: dict[tuple, tuple[bytes, str]] = {}
        self._epoch = -1

    def parts(self, credential_id: str, record: CredentialRecord) -> Parts:
        """The row's cached fragments, rebuilt if the registry or its status changed."""
        table = self.model.credentials
        index = table.parts[record.row]
        if index >= 0:
            return table.parts_pool[index]
        self._forget_if_changed()
        parts = self._build_parts(credential_id, record)
        table.set_parts(record.row, parts)
        return parts

    def _forget_if_changed(self) -> None:
        if self._epoch != self.model.epoch:
            self._interned.clear()
            self._facts.clear()
            self._signed.clear()
            self._fragments.clear()
            self._epoch = self.model.epoch

    def signed_at(self, issuer_id: str, achievement: Achievement | None, key_id: str | None,
                  moment: dt.datetime, title: str) -> tuple[Check, Check, Summary]:
        """Accreditation and key checks and the summary of a document the
        ledger never recorded, signed by `key_id` (None: no registered key)
        at `moment`: shared by the documents one key signed at one time."""
        self._forget_if_changed()
        facts = (issuer_id, achievement.achievement_id if achievement else None, key_id, moment, title)
        found = self._signed.get(facts)
        if found is None:
            if len(self._signed) >= FACTS_LIMIT:
                self._signed.clear()
            key = (key_check(self.model, issuer_id, key_id, moment) if key_id is not None
                   else Check("key_valid", FAIL, "key_unknown"))
            found = self._signed[facts] = (
                accreditation_check(self.model, issuer_id, achievement, moment), key,
                summary_of(self.model, achievement, issuer_id, moment.strftime("%Y-%m-%d"), title))
        return found

    def fragment(self, facts: tuple, build: Callable[[], tuple[list[Check], Summary]]) -> tuple[bytes, str]:
        """The encoded answer after its index and id, and its verdict, for
        `facts` (everything `build`'s checks and summary depend on, the
        registry aside): encoded once per facts until the registry changes."""
        self._forget_if_changed()
        found = self._fragments.get(facts)
        if found is None:
            if len(self._fragments) >= FACTS_LIMIT:
                self._fragments.clear()
            checks, summary = build()
            verdict = verdict_of(checks)
            encoded = _ENCODER.encode(ItemResult(index=0, id="", verdict=verdict, checks=checks, summary=summary))
            found = self._fragments[facts] = (encoded[len(FRAGMENT_PREFIX):], verdict)
        return found

    def checks(self, credential_id: str, record: CredentialRecord, now: int, origin: Sequence[Check], *,
               fresh: bool, identity: Check | None = None) -> list[Check]:
        """Every check of a ledger credential, in the documented order."""
        window = WINDOW_CHECKS[window_state(record.valid_from, record.valid_until, now)]
        status = self._status(credential_id, record) if fresh else STATUS_UNAVAILABLE
        checks = [*origin, *self._registry_checks(record), status, window, self._stack(record)]
        if identity is not None:
            checks.append(identity)
        return checks

    def summary(self, record: CredentialRecord) -> Summary:
        achievement = self.model.registry.achievements.get(record.achievement_id)
        issued = _day(record.issued_at)
        return summary_of(self.model, achievement, record.issuer_id, issued, record.achievement_id)

    def _build_parts(self, credential_id: str, record: CredentialRecord) -> Parts:
        registry, day = self._registry_facts(record)
        stable = (*registry, self._status(credential_id, record), self._stack(record))
        key = (stable, record.achievement_id, record.issuer_id, day)
        parts = self._interned.get(key)
        if parts is None:
            parts = self._interned[key] = self._render(stable, self.summary(record))
        return parts

    def _render(self, stable: tuple[Check, ...], summary: Summary) -> Parts:
        fragments, verdicts = [], []
        for origin in ORIGIN_CHECKS:
            by_state = []
            for window in WINDOW_CHECKS:
                checks = [*origin, *stable[:-1], window, stable[-1]]
                verdict = verdict_of(checks)
                encoded = _ENCODER.encode(ItemResult(index=0, id="", verdict=verdict, checks=checks, summary=summary))
                by_state.append(encoded[len(FRAGMENT_PREFIX):])
                if origin is ORIGIN_CHECKS[BY_ID]:
                    verdicts.append(verdict)
            fragments.append(tuple(by_state))
        return Parts(tuple(fragments), tuple(verdicts))

    def _registry_facts(self, record: CredentialRecord) -> tuple[tuple[Check, Check], str]:
        """The registry's checks and the issue day, shared by every credential
        of one issuer, achievement, key and second of issue (a bulk issuance
        issues thousands at once): the cost of a row's first answer, and of
        every row's again after a registry change."""
        facts = (record.issuer_id, record.achievement_id, record.key_id, record.issued_at)
        found = self._facts.get(facts)
        if found is None:
            if len(self._facts) >= FACTS_LIMIT:
                self._facts.clear()  # many distinct seconds: start over rather than grow without bound
            found = self._facts[facts] = (self._registry_checks(record), _day(record.issued_at))
        return found

    def _registry_checks(self, record: CredentialRecord) -> tuple[Check, Check]:
        moment = _datetime(record.issued_at)
        if not record.achievement_id:  # an endorsement (model.py)
            return endorser_check(self.model, record.issuer_id), key_check(
                self.model, record.issuer_id, record.key_id, moment)
        achievement = self.model.registry.achievements.get(record.achievement_id)
        return (accreditation_check(self.model, record.issuer_id, achievement, moment),
                key_check(self.model, record.issuer_id, record.key_id, moment))

    def _status(self, credential_id: str, record: CredentialRecord) -> Check:
        if record.status == ACTIVE:
            return Check("status", PASS, "active")
        note = self.model.notes.get(credential_id)
        status = UNKNOWN if record.status == FLAGGED else FAIL
        return Check("status", status, STATUS_NAMES[record.status], public_detail(record.status, note))

    def _stack(self, record: CredentialRecord) -> Check:
        components = record.components
        if not components:
            return Check("stack_components", PASS, "not_a_stack")
        for component in components:
            found = self.model.credentials.get(component)
            if found is None:
                return Check("stack_components", UNKNOWN, "component_unknown", component)
            if found.status != ACTIVE:
                reason = "component_revoked" if found.status == REVOKED else "component_not_active"
                return Check("stack_components", FAIL, reason, component)
        return Check("stack_components", PASS, "components_valid")


def _datetime(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _day(seconds: int) -> str:
    return "" if seconds >= NEVER else _datetime(seconds).strftime("%Y-%m-%d")
