"""Signing credentials with hosted keys, one or thousands.

Each credential carries a proof set: an eddsa-rdfc-2022 and an
eddsa-jcs-2022 proof (shared/crypto/proof_set.py). A signing job takes
drafts (plain data) to catalog-encoded CredentialIssued events: it
allocates each credential's revocation status entry (the documents name
it), builds and signs the documents and encodes the events. Small
jobs run on the event loop. The signing processes exist for CPU, not for
privilege: the service process already holds the hosted keys (KeyRing, and
each job's seed is pickled to the signers), so signing one credential in
process exposes nothing more, and spares it a process round trip many times
the signature's cost. Inline signing keeps what makes a signature cheap
between requests: the JSON-LD loader, the RDFC prototypes and the proof
options per key and second, and status entries claimed a block at a time
(StatusReserve). Large jobs are split across a process pool:
status allocation (a keyed permutation per entry), RDFC, JCS and Ed25519 all hold
the GIL, and done on the event loop they would leave a core idle and stall
every other request. A part running in the pool allocates its entries over
its own short-lived connection, in its own transaction: entries of a
request that fails later are never used, and a gap in a list is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import asyncpg
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.issuance.document import Particulars, Template, assemble, identity_object, status_object
from services.issuance.learners import Learner
from services.issuance.status_entries import allocate
from shared.crypto.ed25519_signing import SodiumSigningKey
from shared.crypto.proof_set import ProofSetSigner
from shared.events.credentials import CredentialIssued, StatusEntry
from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc_prototypes import RdfcPrototypes
from shared.key_vault import KeyVault
from shared.ledger.eventstore.events import VERSION_KEY, Event, EventCatalog

log = logging.getLogger(__name__)

# Up to this many credentials a job is signed on the event loop: shipping it
# to another process would cost more than it saves (a one-credential job's
# round trip through the pool took ~1 ms of the service's CPU, signing it in
# process with a proof set ~0.13 ms: two Ed25519 signatures, RDFC-1.0 from
# the prototype, JCS). Sixteen hold the loop for ~2 ms.
INLINE_LIMIT = 16


@dataclass(frozen=True, slots=True)
class Draft:
    """One credential to sign, as plain data (it is pickled to the signers)."""

    credential_id: str
    reference: str | None
    learner: Learner
    valid_from: str
    valid_until: str | None
    holder_token_hash: str
    grade: str | None = None
    evidence: tuple[dict, ...] = ()


@dataclass(frozen=True, slots=True)
class SigningJob:
    """Credentials of one issuer and achievement, signed by one key at one time."""

    seed: bytes
    verification_method: str
    created: str
    template: Template
    public_base_url: str
    issuer_id: str
    achievement_id: str
    key_id: str
    drafts: list[Draft]
    pathway_id: str | None = None
    components: list[str] = field(default_factory=list)
    jcs_only: bool = False  # the pre-proof-set signing (Settings.credential_proofs)


async def allocate_entries(conn: asyncpg.Connection, issuer_id: str, count: int) -> list[list[StatusEntry]]:
    """One revocation entry for each of `count` credentials (docs/status.md:
    Open Badges 3.0 allows one; suspension lives in the ledger)."""
    return [[entry] for entry in await allocate(conn, issuer_id, "revocation", count)]


def revocation_entry(entries: list[StatusEntry]) -> StatusEntry:
    return next(entry for entry in entries if entry.purpose == "revocation")


Secure = Callable[[dict], bytes]


def securer(job: SigningJob, prototypes: RdfcPrototypes | None = None) -> Secure:
    """What turns a job's unsigned document into its signed RFC 8785 bytes."""
    key = SodiumSigningKey(job.seed)  # the same signatures as the vault's key, signed faster
    prototypes = prototypes or RdfcPrototypes(ContextLoader(job.public_base_url))
    return ProofSetSigner(key, job.verification_method, job.created, prototypes.loader,
                          canonical_nquads=prototypes.canonical_nquads, with_rdfc=not job.jcs_only).secure


def sign_job(job: SigningJob, status: list[list[StatusEntry]], secure: Secure | None = None) -> list[bytes]:
    """The CredentialIssued payload (catalog-encoded) of each draft, in order."""
    secure = secure or securer(job)
    return [encode_issued(_issued(job, draft, entries, secure(_unsigned(job, draft, entries))))
            for draft, entries in zip(job.drafts, status, strict=True)]


# CredentialIssued holds strings, small integers (status indexes), None,
# lists and the signed document as msgspec.Raw: for those msgspec's sorted
# encoding is RFC 8785 (shared/crypto/jcs.py says why), so the event can be
# encoded straight from its Struct, without the catalog's generic pass
# through builtins (a third of the cost). tests/unit/test_issuance_signing.py
# checks the bytes equal CATALOG.encode's.
_SORTED_ENCODER = msgspec.json.Encoder(order="sorted")
# The catalog puts the version first (events.py); version 1 carries none.
_VERSIONED = b'{"%b":%d,' % (VERSION_KEY.encode(), CredentialIssued.class_version)


def encode_issued(event: CredentialIssued) -> bytes:
    """CATALOG.encode(event), byte for byte."""
    encoded = _SORTED_ENCODER.encode(event)
    return _VERSIONED + encoded[1:] if CredentialIssued.class_version > 1 else encoded


def allocate_and_sign(job: SigningJob, database_url: str) -> list[bytes]:
    """A part of a job, in a signing process."""
    return sign_job(job, asyncio.run(_allocate_over_own_connection(database_url, job.issuer_id, len(job.drafts))))


# A part's drafts cross to a signing process as MessagePack, not pickled
# dataclasses: pickle packs each one in Python (dataclass __getstate__),
# costing the service's event loop several times what msgspec does.
_DRAFTS_ENCODER = msgspec.msgpack.Encoder()
_DRAFTS_DECODER = msgspec.msgpack.Decoder(list[Draft])


def allocate_and_sign_packed(job: SigningJob, drafts: bytes, database_url: str) -> list[bytes]:
    """`allocate_and_sign` of `job` with the drafts `pack_drafts` packed."""
    return allocate_and_sign(replace(job, drafts=unpack_drafts(drafts)), database_url)


def pack_drafts(drafts: list[Draft]) -> bytes:
    return _DRAFTS_ENCODER.encode(drafts)


def unpack_drafts(packed: bytes) -> list[Draft]:
    return _DRAFTS_DECODER.decode(packed)


async def _allocate_over_own_connection(database_url: str, issuer_id: str, count: int) -> list[list[StatusEntry]]:
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            return await allocate_entries(conn, issuer_id, count)
    finally:
        await conn.close()


def _unsigned(job: SigningJob, draft: Draft, status: list[StatusEntry]) -> dict:
    particulars = Particulars(
        draft.credential_id, draft.valid_from, draft.valid_until, identity_object(draft.learner),
        status_object(job.public_base_url, revocation_entry(status)), draft.grade, draft.evidence,
    )
    return assemble(job.template, particulars)


def _issued(job: SigningJob, draft: Draft, status: list[StatusEntry], canonical: bytes) -> CredentialIssued:
    return CredentialIssued(
        credential_id=draft.credential_id, issuer_id=job.issuer_id,
        achievement_id=job.achievement_id,
        key_id=job.key_id, learner_hash=draft.learner.learner_hash, issued_at=job.created,
        valid_from=draft.valid_from, valid_until=draft.valid_until, issuer_reference=draft.reference,
        status=status, pathway_id=job.pathway_id, components=job.components, signing="hosted",
        document_hash=hashlib.sha256(canonical).hexdigest(), document=msgspec.Raw(canonical),
        holder_token_hash=draft.holder_token_hash,
    )


@dataclass(frozen=True, slots=True)
class Encoded:
    """An event already encoded by the platform catalog (in a signing process)."""

    event_type: str
    payload: bytes


class PreEncodedCatalog(EventCatalog):
    """The platform catalog, which also accepts events it encoded elsewhere.

    The bytes were produced in the signing process (`encode_issued`), so
    they are exactly what encoding here would give; the ledger appends them
    without a second pass over every document on the service's event loop.
    """

    def __init__(self, catalog: EventCatalog) -> None:
        super().__init__()
        self._catalog = catalog

    def encode(self, event: Event | Encoded) -> bytes:  # type: ignore[override]
        return event.payload if isinstance(event, Encoded) else self._catalog.encode(event)

    def decode(self, recorded):  # type: ignore[no-untyped-def]
        return self._catalog.decode(recorded)


def issued_encoded(payload: bytes) -> Encoded:
    return Encoded(CredentialIssued.event_type, payload)


def seed_of(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


class KeyRing:
    """Hosted private keys, opened from the vault once and kept in memory.

    Whether a key may sign is decided per request from the registry state;
    this only saves the database read and the AES-GCM open.
    """

    def __init__(self, pool: asyncpg.Pool, vault: KeyVault) -> None:
        self._pool = pool
        self._vault = vault
        self._keys: dict[tuple[str, str], Ed25519PrivateKey] = {}
        self._seeds: dict[tuple[str, str], bytes] = {}

    async def private_key(self, issuer_id: str, key_id: str) -> Ed25519PrivateKey:
        cached = self._keys.get((issuer_id, key_id))
        if cached is None:
            cached = self._keys[(issuer_id, key_id)] = await self._vault.load(self._pool, issuer_id, key_id)
        return cached

    async def seed(self, issuer_id: str, key_id: str) -> bytes:
        seed = self._seeds.get((issuer_id, key_id))
        if seed is None:
            seed = self._seeds[(issuer_id, key_id)] = seed_of(await self.private_key(issuer_id, key_id))
        return seed


class StatusReserve:
    """Revocation entries claimed ahead for small jobs, a block at a time.

    One claim per `block` credentials instead of one short transaction per
    request, which concurrent single issuances of one issuer would queue on
    (the list's counter row). The next block is claimed in the background
    once half of the current one is used, so requests do not wait for that
    transaction (before, every request arriving while a block was claimed
    waited for it). Entries still unused when the process stops are a gap
    in the list, which is harmless (docs/status.md).
    """

    def __init__(self, pool: asyncpg.Pool, block: int = 256) -> None:
        self._pool = pool
        self._block = block
        self._spare: dict[str, list[StatusEntry]] = {}
        self._claims: dict[str, asyncio.Task[None]] = {}

    async def take(self, issuer_id: str, count: int) -> list[list[StatusEntry]]:
        while len(self._spare.get(issuer_id, ())) < count:
            await asyncio.shield(self._claiming(issuer_id, count))
        spare = self._spare[issuer_id]
        self._spare[issuer_id] = spare[count:]
        if len(spare) - count < self._block // 2:
            self._claiming(issuer_id, 0)
        return [[entry] for entry in spare[:count]]

    def _claiming(self, issuer_id: str, count: int) -> asyncio.Task[None]:
        """The claim under way for this issuer, or a new one."""
        task = self._claims.get(issuer_id)
        if task is None:
            task = self._claims[issuer_id] = asyncio.create_task(self._claim(issuer_id, self._block + count))
            # A background claim that fails is claimed again by the next taker.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return task

    async def _claim(self, issuer_id: str, count: int) -> None:
        try:
            # Handed out only once committed: a failed claim leaves nothing in use.
            async with self._pool.acquire() as conn, conn.transaction():
                claimed = await allocate(conn, issuer_id, "revocation", count)
            self._spare[issuer_id] = self._spare.get(issuer_id, []) + claimed
        finally:
            del self._claims[issuer_id]

    def close(self) -> None:
        for task in self._claims.values():
            task.cancel()


class _InlineSecurers:
    """The securer of each (issuer key, second) recently signed with inline."""

    def __init__(self, limit: int = 32) -> None:
        self._limit = limit
        self._prototypes: dict[str, RdfcPrototypes] = {}
        self._securers: dict[tuple[str, str, str, str, bool], Secure] = {}

    def of(self, job: SigningJob) -> Secure:
        key = (job.issuer_id, job.key_id, job.created, job.public_base_url, job.jcs_only)
        found = self._securers.get(key)
        if found is None:
            if len(self._securers) >= self._limit:
                del self._securers[next(iter(self._securers))]  # the oldest second
            prototypes = self._prototypes.get(job.public_base_url)
            if prototypes is None:
                prototypes = self._prototypes[job.public_base_url] = RdfcPrototypes(ContextLoader(job.public_base_url))
            found = self._securers[key] = securer(job, prototypes)
        return found


class Signer:
    """Runs signing jobs inline when small and across processes when large.

    The pool is started on the first large job, so a service (or a test)
    that never signs in bulk never pays for it.
    """

    def __init__(self, pool: asyncpg.Pool, database_url: str, processes: int, *, jcs_only: bool = False) -> None:
        self._db = pool
        self._database_url = database_url
        self._processes = processes
        self._jcs_only = jcs_only
        self._executor: Executor | None = None
        self._reserve = StatusReserve(pool)
        self._inline = _InlineSecurers()

    def sign_allocated(self, job: SigningJob, status: list[list[StatusEntry]]) -> list[bytes]:
        """Sign inline, with status entries the caller allocated."""
        job = replace(job, jcs_only=self._jcs_only)
        return sign_job(job, status, self._inline.of(job))

    async def sign(self, job: SigningJob) -> list[bytes]:
        job = replace(job, jcs_only=self._jcs_only)
        if len(job.drafts) <= INLINE_LIMIT:
            return sign_job(job, await self._reserve.take(job.issuer_id, len(job.drafts)), self._inline.of(job))
        if self._processes == 0:
            # Off the event loop, so health checks and small requests still
            # get answered while a big batch signs.
            return await asyncio.to_thread(allocate_and_sign, job, self._database_url)
        loop = asyncio.get_running_loop()
        executor = self._ensure_executor()
        parts = await asyncio.gather(*(
            loop.run_in_executor(executor, allocate_and_sign_packed, replace(part, drafts=[]),
                                 pack_drafts(part.drafts), self._database_url)
            for part in self._split(job)))
        return [payload for part in parts for payload in part]

    def _split(self, job: SigningJob) -> list[SigningJob]:
        # Two parts per process: one can be pickled across while another signs.
        size = -(-len(job.drafts) // (self._processes * 2))
        return [replace(job, drafts=job.drafts[i:i + size]) for i in range(0, len(job.drafts), size)]

    def _ensure_executor(self) -> Executor:
        if self._executor is None:
            # spawn, not fork: the parent runs an event loop and Kafka threads.
            self._executor = ProcessPoolExecutor(self._processes, mp_context=multiprocessing.get_context("spawn"))
            log.info("signing processes started", extra={"processes": self._processes})
        return self._executor

    def close(self) -> None:
        self._reserve.close()
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
