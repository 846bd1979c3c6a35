"""The registry's state as the other services need it, built from events.

Issuance asks "may this issuer issue this achievement now, and with which
key?"; verification asks "was the issuer accredited, and was this key valid
and not compromised, when the credential was signed?"; revocation asks which
credentials a key compromise or a withdrawal affects. All of it is answered
from memory, from the registry's ledger events, so no service calls another
on its hot path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.crypto.multibase import multibase_to_public_key
from shared.events import CATALOG
from shared.events import endorsements as endo
from shared.events import recognition as rec
from shared.events import registry as ev
from shared.ledger.delivery.projection import Applied, Projection
from shared.ledger.eventstore.events import Event, RecordedEvent
from shared.recognition_state import Recognitions
from shared.timeutil import parse_time

REGISTRY_PREFIX = "registry."


@dataclass
class Accreditation:
    accreditation_id: str
    accreditor_id: str
    subject_kind: str
    subject_id: str
    scope: ev.AccreditationScope
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    suspensions: list[list[dt.datetime | None]] = field(default_factory=list)
    withdrawn_at: dt.datetime | None = None
    withdrawal: ev.AccreditationWithdrawn | None = None

    @property
    def status(self) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.suspensions and self.suspensions[-1][1] is None:
            return "suspended"
        return "active"

    def active_at(self, moment: dt.datetime) -> bool:
        if moment < self.valid_from or (self.valid_until is not None and moment >= self.valid_until):
            return False
        if self.withdrawn_at is not None and moment >= self.withdrawn_at:
            return False
        # [start, end] pairs (lists: the end is filled in when reinstated); a
        # start is always set.
        return not any(
            start is not None and start <= moment and (end is None or moment < end) for start, end in self.suspensions
        )

    def covers(self, eqf_level: int, field_code: str) -> bool:
        scope = self.scope
        level_ok = not scope.eqf_levels or eqf_level in scope.eqf_levels
        # ISCED-F codes nest by prefix: broad "06" covers "061" and "0613".
        field_ok = "*" in scope.fields or any(field_code.startswith(f) for f in scope.fields)
        return level_ok and field_ok


@dataclass
class IssuerKey:
    issuer_id: str
    key_id: str
    public_key_multibase: str
    public_key: bytes
    custody: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None = None
    compromised_at: dt.datetime | None = None

    def problem_at(self, moment: dt.datetime) -> str | None:
        """Why a signature made at `moment` is not acceptable, or None."""
        if self.compromised_at is not None and moment >= self.compromised_at:
            return "key_compromised"
        if moment < self.valid_from or (self.valid_until is not None and moment >= self.valid_until):
            return "key_outside_validity"
        return None


@dataclass
class Issuer:
    event: ev.IssuerRegistered
    keys: dict[str, IssuerKey] = field(default_factory=dict)

    @property
    def issuer_id(self) -> str:
        return self.event.issuer_id


@dataclass(frozen=True)
class UploadedImage:
    media_type: str
    content: bytes


@dataclass
class Achievement:
    achievement_id: str
    issuer_id: str
    spec: ev.AchievementSpec
    status: str = "proposed"
    approved_by: str | None = None
    image: UploadedImage | None = None


@dataclass
class Pathway:
    event: ev.PathwayProposed
    status: str = "proposed"


class RegistryState:
    def __init__(self) -> None:
        self.agencies: dict[str, ev.AgencyCreated] = {}
        self.accreditations: dict[str, Accreditation] = {}
        self.frameworks: dict[str, ev.FrameworkPublished] = {}
        self.issuers: dict[str, Issuer] = {}
        self.achievements: dict[str, Achievement] = {}
        self.pathways: dict[str, Pathway] = {}
        self.recognitions = Recognitions()
        self.endorsers: dict[str, endo.EndorserRegistered] = {}
        # Counts the events applied: what is derived from the state (a
        # rendered template, say) may be kept while this stays the same.
        self.version = 0
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            ev.AgencyCreated: lambda e: self.agencies.__setitem__(e.agency_id, e),
            ev.AccreditationGranted: self._granted,
            ev.AccreditationSuspended: self._suspended,
            ev.AccreditationReinstated: self._reinstated,
            ev.AccreditationWithdrawn: self._withdrawn,
            ev.FrameworkPublished: lambda e: self.frameworks.__setitem__(e.framework_id, e),
            ev.IssuerRegistered: lambda e: self.issuers.__setitem__(e.issuer_id, Issuer(e)),
            ev.IssuerUpdated: self._issuer_updated,
            ev.IssuerKeyAdded: self._key_added,
            ev.IssuerKeyRetired: self._key_retired,
            ev.IssuerKeyCompromised: self._key_compromised,
            ev.AchievementProposed: lambda e: self.achievements.__setitem__(
                e.achievement_id, Achievement(e.achievement_id, e.issuer_id, e.spec)),
            ev.AchievementApproved: self._achievement_approved,
            ev.AchievementRejected: lambda e: self._achievement_status(e.achievement_id, "rejected"),
            ev.AchievementWithdrawn: lambda e: self._achievement_status(e.achievement_id, "withdrawn"),
            ev.AchievementImageUploaded: self._achievement_image,
            ev.PathwayProposed: lambda e: self.pathways.__setitem__(e.pathway_id, Pathway(e)),
            ev.PathwayApproved: lambda e: self._pathway_status(e.pathway_id, "approved"),
            ev.PathwayWithdrawn: lambda e: self._pathway_status(e.pathway_id, "withdrawn"),
            rec.RecognitionAgreementDeclared: self.recognitions.declared,
            rec.RecognitionAgreementRevoked: self.recognitions.revoked,
            rec.FrameworkReferenced: self.recognitions.referenced,
            endo.EndorserRegistered: lambda e: self.endorsers.__setitem__(e.endorser_id, e),
        }

    def apply(self, event: Event) -> None:
        """Apply one event; events of other domains are ignored."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
            self.version += 1

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    # -- queries -----------------------------------------------------------

    def accreditations_of(self, subject_id: str) -> list[Accreditation]:
        return [a for a in self.accreditations.values() if a.subject_id == subject_id]

    def accreditation_for(
        self, issuer_id: str, moment: dt.datetime, eqf_level: int, field_code: str
    ) -> Accreditation | None:
        """An accreditation that lets the issuer award this level and field at
        `moment`, granted by an agency whose own authority held then."""
        for accreditation in self.accreditations_of(issuer_id):
            if (accreditation.active_at(moment) and accreditation.covers(eqf_level, field_code)
                    and self.agency_in_force(accreditation.accreditor_id, moment)):
                return accreditation
        return None

    def agency_in_force(self, agency_id: str, moment: dt.datetime) -> bool:
        """A root agency always is; a sub-agency while a delegation from its
        parent is in force (and so on up the chain). Suspending or
        withdrawing a delegation suspends what the delegate granted."""
        seen: set[str] = set()
        while agency_id not in seen:
            seen.add(agency_id)
            agency = self.agencies.get(agency_id)
            if agency is None:
                return False
            if agency.parent_agency_id is None:
                return True
            delegation = next((a for a in self.accreditations_of(agency_id)
                               if a.subject_kind == "agency" and a.accreditor_id == agency.parent_agency_id
                               and a.active_at(moment)), None)
            if delegation is None:
                return False
            agency_id = agency.parent_agency_id
        return False

    def key(self, issuer_id: str, key_id: str) -> IssuerKey | None:
        issuer = self.issuers.get(issuer_id)
        return issuer.keys.get(key_id) if issuer else None

    def signing_key_at(self, issuer_id: str, moment: dt.datetime, custody: str = "hosted") -> IssuerKey | None:
        """The newest key of that custody that may sign at `moment` (latest
        window start; of equal starts, the one added last, e.g. the
        successor in a rotation, whose predecessor's window closes at the
        next whole second)."""
        issuer = self.issuers.get(issuer_id)
        usable = [(k.valid_from, order, k) for order, k in enumerate(issuer.keys.values() if issuer else ())
                  if k.custody == custody and k.problem_at(moment) is None]
        return max(usable, key=lambda entry: entry[:2], default=(None, 0, None))[2]

    def approved_achievement(self, achievement_id: str) -> Achievement | None:
        achievement = self.achievements.get(achievement_id)
        return achievement if achievement and achievement.status == "approved" else None

    # -- handlers ----------------------------------------------------------

    def _granted(self, e: ev.AccreditationGranted) -> None:
        self.accreditations[e.accreditation_id] = Accreditation(
            e.accreditation_id, e.accreditor_id, e.subject_kind, e.subject_id, e.scope,
            parse_time(e.valid_from), parse_time(e.valid_until) if e.valid_until else None,
        )

    def _suspended(self, e: ev.AccreditationSuspended) -> None:
        self.accreditations[e.accreditation_id].suspensions.append([parse_time(e.at), None])

    def _reinstated(self, e: ev.AccreditationReinstated) -> None:
        self.accreditations[e.accreditation_id].suspensions[-1][1] = parse_time(e.at)

    def _withdrawn(self, e: ev.AccreditationWithdrawn) -> None:
        accreditation = self.accreditations[e.accreditation_id]
        accreditation.withdrawn_at = parse_time(e.at)
        accreditation.withdrawal = e

    def _issuer_updated(self, e: ev.IssuerUpdated) -> None:
        issuer = self.issuers[e.issuer_id]
        issuer.event = issuer.event.__class__(**{
            **{f: getattr(issuer.event, f) for f in issuer.event.__struct_fields__},
            "legal_name": e.legal_name, "homepage": e.homepage, "email": e.email,
        })

    def _key_added(self, e: ev.IssuerKeyAdded) -> None:
        self.issuers[e.issuer_id].keys[e.key_id] = IssuerKey(
            e.issuer_id, e.key_id, e.public_key_multibase, multibase_to_public_key(e.public_key_multibase),
            e.custody, parse_time(e.valid_from), parse_time(e.valid_until) if e.valid_until else None,
        )

    def _key_retired(self, e: ev.IssuerKeyRetired) -> None:
        self.issuers[e.issuer_id].keys[e.key_id].valid_until = parse_time(e.valid_until)

    def _key_compromised(self, e: ev.IssuerKeyCompromised) -> None:
        self.issuers[e.issuer_id].keys[e.key_id].compromised_at = parse_time(e.compromised_at)

    def _achievement_approved(self, e: ev.AchievementApproved) -> None:
        self._achievement_status(e.achievement_id, "approved")
        self.achievements[e.achievement_id].approved_by = e.agency_id

    def _achievement_image(self, e: ev.AchievementImageUploaded) -> None:
        self.achievements[e.achievement_id].image = UploadedImage(e.media_type, e.content)

    def _achievement_status(self, achievement_id: str, status: str) -> None:
        self.achievements[achievement_id].status = status

    def _pathway_status(self, pathway_id: str, status: str) -> None:
        self.pathways[pathway_id].status = status


class RegistryProjection(Projection):
    """Keeps a RegistryState current from the ledger (in memory)."""

    def __init__(self, state: RegistryState, name: str) -> None:
        self.state = state
        self.name = name
        self.position = 0
        self.last_hash: bytes | None = None

    async def load_applied(self) -> Applied:
        return Applied(self.position, self.last_hash)

    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.event_type.startswith(REGISTRY_PREFIX):
                self.state.apply(CATALOG.decode(recorded))
        self.position = events[-1].position
        self.last_hash = events[-1].hash
