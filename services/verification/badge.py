"""What the badge page shows, gathered from the read model and the ledger.

The page's words (titles, descriptions, outcomes, accreditation) come from
the registry's state the read model already holds beside the credentials;
nothing page-only is added to the per-credential records. What only the
credential document says (grade, evidence) and where the credential sits
in the signed log (its ledger position) are read from the ledger itself,
per page view, from the credential's own stream: one indexed read, off the
hot verification path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from services.verification.model import NEVER, STATUS_NAMES, CredentialRecord, ReadModel
from shared.events import CATALOG
from shared.events import credentials as cev
from shared.ledger.eventstore.store import Ledger
from shared.ledger.transparency import readers as log_readers
from shared.timeutil import format_time

HEADLINES = {
    "valid": "Valid: issued by an accredited issuer and currently in good standing",
    "invalid": "Not valid",
    "unknown": "Could not be confirmed right now",
}
# How a recruiter reads each check, in the order they run.
CHECK_WORDS = {
    "exists": "Issued through this ledger",
    "integrity": "Unchanged since it was issued",
    "signature": "Signed by the issuer's key",
    "issuer_accredited": "Issuer accredited at the time of issue",
    "key_valid": "Signing key valid when it was used",
    "status": "Current status",
    "validity_window": "Within its validity period",
    "stack_components": "Built from valid credentials",
}
# The passing reasons' codes, as the list reads them.
REASON_WORDS = {
    "in_ledger": "recorded in the ledger", "ledger_record": "the ledger's own copy, signed when issued",
    "matches_ledger": "identical to the issued document", "proof_verified": "the proof verifies",
    "jws_verified": "the JWS signature verifies", "accredited_at_issue": "accredited when it was issued",
    "valid_at_signing": "valid and not compromised when it signed", "active": "active",
    "within_validity_period": "yes", "components_valid": "every component is valid",
    "not_a_stack": "not a stacked award",
}
TOOLS = (
    ("1EdTech Open Badges 3.0 validator", "https://openbadgesvalidator.imsglobal.org/",
     "Upload the downloaded JSON or baked image: it checks the Open Badges 3.0 format and the proofs."),
    ("Digital Credentials Consortium VerifierPlus", "https://verifierplus.org/",
     "Paste the JSON: it checks the signature, the issuer's DID and the revocation status list."),
    ("W3C VC Playground", "https://playground.chapi.io/",
     "Load the JSON to check the Verifiable Credentials 2.0 data model and its proofs."),
)


@dataclass
class Accredited:
    agency: str
    levels: str
    fields: str


@dataclass
class Related:
    credential_id: str
    title: str
    status: str


@dataclass
class Shared:
    """What only the holder's share link opens: grade and evidence."""

    grade: str = ""
    evidence: list[dict[str, str]] = field(default_factory=list)


@dataclass
class BadgePage:
    credential_id: str
    verdict: str
    headline: str
    result: dict[str, Any]
    record: CredentialRecord
    achievement: Any
    issuer_name: str
    issuer_id: str
    issuer_homepage: str
    accreditations: list[Accredited]
    components: list[Related]
    counts_toward: list[Related]
    checks: list[dict[str, str]]
    issued_on: str
    valid_until: str
    status: str
    status_on: str
    position: int | None
    checkpoint_size: int | None
    read_at: str
    shared: Shared | None
    document: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        return self.achievement.spec.title if self.achievement else (self.result.get("summary") or {}).get("title", "")


def _day(seconds: int) -> str:
    return "" if seconds >= NEVER else dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d")


def _levels(values: list[int]) -> str:
    return ", ".join(f"EQF {v}" for v in sorted(values)) if values else "every level"


def accreditations(model: ReadModel, issuer_id: str) -> list[Accredited]:
    found = []
    for accreditation in model.registry.accreditations_of(issuer_id):
        if accreditation.status != "active":
            continue
        agency = model.registry.agencies.get(accreditation.accreditor_id)
        fields = accreditation.scope.fields
        found.append(Accredited(agency.name if agency else accreditation.accreditor_id,
                                _levels(list(accreditation.scope.eqf_levels)),
                                "every field" if "*" in fields else ", ".join(fields)))
    return found


def _related(model: ReadModel, credential_id: str) -> Related:
    record = model.credentials.get(credential_id)
    if record is None:
        return Related(credential_id, "(not recorded here)", "unknown")
    achievement = model.registry.achievements.get(record.achievement_id)
    return Related(credential_id, achievement.spec.title if achievement else record.achievement_id,
                   STATUS_NAMES[record.status])


def status_list_of(document: dict[str, Any] | None) -> str:
    """The published status list the credential names (what other verifiers read)."""
    entries = (document or {}).get("credentialStatus")
    entries = entries if isinstance(entries, list) else [entries]
    for entry in entries:
        url = entry.get("statusListCredential") if isinstance(entry, dict) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
    return ""


def _check_rows(result: dict[str, Any], read_at: str, position: int | None, checkpoint: int | None,
                status_list: str = "") -> list[dict]:
    rows = []
    for check in result.get("checks", []):
        label = CHECK_WORDS.get(check["check"], check["check"].replace("_", " "))
        detail = check.get("detail") or REASON_WORDS.get(check["reason"], check["reason"].replace("_", " "))
        row = {"label": label, "status": check["status"], "detail": detail, "link": ""}
        if check["check"] == "status":
            row["detail"] = f"{detail}; read from the ledger's status records at {read_at}"
            row["link"] = status_list
        rows.append(row)
    if position is not None:
        included = checkpoint is not None
        rows.append({
            "link": "",
            "label": "Included in the signed public log",
            "status": "pass" if included else "unknown",
            "detail": (f"ledger entry {position}, covered by the signed checkpoint of size {checkpoint}"
                       if included else f"ledger entry {position}; no signed checkpoint covers it yet"),
        })
    return rows


class _Evidence(msgspec.Struct):
    id: str = ""
    name: str = ""
    narrative: str = ""
    genre: str = ""


class _Result(msgspec.Struct):
    value: str = ""
    achievedLevel: str = ""  # noqa: N815 - Open Badges field names


class _Subject(msgspec.Struct):
    result: list[_Result] = []


class _Document(msgspec.Struct):
    evidence: list[_Evidence] = []
    credentialSubject: _Subject | None = None  # noqa: N815


def shared_parts(document: bytes) -> Shared:
    try:
        parsed = msgspec.json.decode(document, type=_Document)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Shared()
    results = parsed.credentialSubject.result if parsed.credentialSubject else []
    grade = next((r.value or r.achievedLevel for r in results if r.value or r.achievedLevel), "")
    evidence = [{"url": e.id if e.id.startswith(("https://", "http://")) else "", "name": e.name,
                 "narrative": e.narrative, "genre": e.genre} for e in parsed.evidence]
    return Shared(grade, evidence)


async def issued_entry(ledger: Ledger, credential_id: str) -> tuple[int, bytes] | None:
    """The ledger position and document of the credential's issuance."""
    for recorded in await ledger.read_stream(cev.credential_stream(credential_id)):
        if recorded.event_type == cev.CredentialIssued.event_type:
            event = CATALOG.decode(recorded)
            return recorded.position, bytes(event.document)  # type: ignore[attr-defined]
    return None


async def load_page(pool: asyncpg.Pool, model: ReadModel, credential_id: str, record: CredentialRecord,
                    result: dict[str, Any], *, shared: bool) -> BadgePage:
    entry = await issued_entry(Ledger(pool, CATALOG), credential_id)
    checkpoint = await log_readers.last_checkpoint_size(pool) or None
    read_at = format_time(dt.datetime.now(dt.UTC).replace(microsecond=0))
    return build_page(model, credential_id, record, result, entry=entry, checkpoint_size=checkpoint,
                      read_at=read_at, shared=shared)


def build_page(model: ReadModel, credential_id: str, record: CredentialRecord, result: dict[str, Any], *,
               entry: tuple[int, bytes] | None, checkpoint_size: int | None, read_at: str,
               shared: bool) -> BadgePage:
    achievement = model.registry.achievements.get(record.achievement_id)
    issuer = model.registry.issuers.get(record.issuer_id)
    note = model.notes.get(credential_id)
    position = entry[0] if entry else None
    covered = checkpoint_size if checkpoint_size is not None and position is not None and \
        checkpoint_size >= position else None
    document = msgspec.json.decode(entry[1]) if entry else None
    return BadgePage(
        credential_id=credential_id, verdict=result["verdict"], headline=HEADLINES[result["verdict"]],
        result=result, record=record, achievement=achievement,
        issuer_name=model.issuer_name(record.issuer_id), issuer_id=record.issuer_id,
        issuer_homepage=issuer.event.homepage if issuer else "",
        accreditations=accreditations(model, record.issuer_id),
        components=[_related(model, c) for c in record.components],
        counts_toward=[_related(model, a) for a in model.awards_of.get(credential_id, ())],
        checks=_check_rows(result, read_at, position, covered, status_list_of(document)),
        issued_on=_day(record.issued_at), valid_until=_day(record.valid_until),
        status=STATUS_NAMES[record.status].replace("_", " "), status_on=note.on if note else "",
        position=position, checkpoint_size=covered, read_at=read_at,
        shared=shared_parts(entry[1]) if shared and entry else None, document=document,
    )


def json_ld(page: BadgePage, base_url: str) -> dict[str, Any]:
    """The preview's structured data: the schema.org reading of the credential
    (what search engines and link unfurlers understand), not the signed VC."""
    spec = page.achievement.spec if page.achievement else None
    data: dict[str, Any] = {
        "@context": "https://schema.org", "@type": "EducationalOccupationalCredential",
        "@id": page.credential_id, "name": page.title, "url": f"{base_url}/verify/{page.credential_id}",
        "credentialCategory": spec.achievement_type if spec else "MicroCredential",
        "recognizedBy": {"@type": "Organization", "name": a.agency} if (a := next(iter(page.accreditations), None))
        else None,
        "provider": {"@type": "EducationalOrganization", "name": page.issuer_name},
        "dateCreated": page.issued_on,
    }
    if spec:
        data["description"] = spec.description
        data["educationalLevel"] = f"EQF {spec.eqf_level}"
        data["competencyRequired"] = [{"@type": "DefinedTerm", "name": s.name, "url": s.uri} for s in spec.skills]
    if page.valid_until:
        data["expires"] = page.valid_until
    return {k: v for k, v in data.items() if v is not None}
