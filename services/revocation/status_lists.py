"""Publishing W3C Bitstring Status List credentials, signed by the issuer.

Every status change marks its lists (a `list_changes` row, in the
transaction that records the change). The publisher regenerates marked lists from the read model,
signs each as a `BitstringStatusListCredential` with the issuer's current
hosted key (eddsa-jcs-2022) and stores the exact bytes, so all replicas
serve one document with one ETag and a restart serves at once.

Debounced per list: a list changed after a quiet spell is regenerated as
soon as the projection reports the change; while it keeps changing it is
regenerated at most every `MIN_LIST_INTERVAL`, so a burst of ten thousand
revocations costs a handful of regenerations, not ten thousand. Changes made
through another replica are noticed by polling.

A status change is not acknowledged until its lists are published:
`publish_lists_of` regenerates them (without the debounce) after the
change commits and before the response, so any fetch after the response,
from any replica, serves a list that carries the bit. Requests changing one
list at once share regenerations: each waits for the list's lock and then
regenerates only if changes are still unpublished, covering every change
committed before it began. A fetch never waits for the debounce either:
`current` regenerates a list that has changes committed since its last
signing before it is served (changes made through another replica, or whose
publication before the response failed).

Regeneration is cheap: the list credential differs between signings only
in `validFrom` and `encodedList`, so its RDFC-1.0 comes from a prototype
converted once (shared/jsonld/rdfc_prototypes.py), not from JSON-LD
processing each time.

`ready` is false until every list due once the read models had caught up
has been tried, so /readyz does not call the service ready while it would
serve lists older than the ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.revocation.metrics import RevocationMetrics
from services.revocation.projection import registry_reached
from services.revocation.status_changes import QUERIES
from shared.credential_format import VC_CONTEXT, status_list_url, verification_method
from shared.crypto.proof_set import ProofSetSigner
from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc_prototypes import RdfcPrototypes
from shared.key_vault import KeyVault, VaultError
from shared.lifecycle import wait_any
from shared.registry_state import RegistryProjection
from shared.statuslist import Bitstring
from shared.timeutil import format_time, now

log = logging.getLogger(__name__)

# Verifiers may cache a list this long (ms, the spec's `ttl`); it matches the
# promise that a change is visible within a second.
TTL_MS = 1000
MIN_LIST_INTERVAL = 0.2
POLL_INTERVAL = 0.25
LISTS_PER_PASS = 500
# Short: an issuer or key the registry view has not caught up with yet is
# the common cause, and it resolves itself within moments.
FAILURE_BACKOFF = 1.0
REGISTRY_WAIT_SECONDS = 2.0
INDEX_QUERY = {"revocation": "revoked_indexes", "suspension": "suspended_indexes"}
# What varies between two signings of one list (see rdfc_prototypes.py).
LIST_LEAVES = (("validFrom",), ("credentialSubject", "encodedList"))


def status_list_credential(list_url: str, issuer: str, purpose: str, encoded_list: str, valid_from: str) -> dict[str, Any]:
    """The unsigned BitstringStatusListCredential (VC Data Model 2.0)."""
    return {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list,
            "ttl": TTL_MS,
        },
    }


def etag_of(document: bytes) -> str:
    return '"' + hashlib.sha256(document).hexdigest()[:40] + '"'


class StatusListPublisher:
    def __init__(
        self, pool: asyncpg.Pool, registry: RegistryProjection, master_key: str, public_base_url: str,
        metrics: RevocationMetrics, sources_caught_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._master_key = master_key
        self._public_base_url = public_base_url
        self._loader = ContextLoader(public_base_url)
        self._prototypes = RdfcPrototypes(self._loader, LIST_LEAVES)
        self._metrics = metrics
        self.wake = asyncio.Event()
        self._keys: dict[tuple[str, str], Ed25519PrivateKey] = {}
        # Per list: the earliest moment (monotonic) it may be regenerated again.
        self._not_before: dict[str, float] = {}
        self._failing: set[str] = set()  # warned about once, until published
        self._list_locks: dict[str, asyncio.Lock] = {}
        # Set once every list due after the read models caught up has been
        # tried (see /readyz); until then, the lists tried since that moment.
        self.ready = False
        self._sources_caught_up = sources_caught_up
        self._tried: set[str] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        wait = POLL_INTERVAL
        while not stop.is_set():
            await wait_any(wait, stop, self.wake)
            self.wake.clear()
            try:
                wait = await self.publish_due()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("status list pass failed; retrying", extra={"error": repr(exc)})
                wait = POLL_INTERVAL

    async def publish_due(self) -> float:
        """Regenerate the lists marked since they were last signed, each at
        most every MIN_LIST_INTERVAL; return how long to wait before the
        next pass if nothing else happens."""
        # Only a pass begun once the read models had caught up sees every change.
        if self._tried is None and not self.ready and self._sources_caught_up():
            self._tried = set()
        async with self._pool.acquire() as conn:
            due = await conn.fetch(QUERIES["lists_due"], LISTS_PER_PASS)
            self._metrics.lists_due.set(len(due))
            now_mono = time.monotonic()
            held = [self._not_before[r["list_id"]] - now_mono for r in due
                    if self._not_before.get(r["list_id"], 0.0) > now_mono]
            for row in due:
                if self._not_before.get(row["list_id"], 0.0) <= now_mono:
                    await self._publish_once(conn, row["list_id"])
        # Ready once every list still due has been tried since the catch-up
        # (one that cannot be signed is logged and retried; it must not hold
        # the whole service back, nor one that keeps changing under load).
        if self._tried is not None and len(due) < LISTS_PER_PASS and \
                all(row["list_id"] in self._tried for row in due):
            self.ready, self._tried = True, None
        self._forget_quiet_lists(now_mono)
        return min([POLL_INTERVAL, *held])

    async def current(self, list_id: str, known_due: bool = False) -> None:
        """Regenerate `list_id` now if changes were committed since it was
        last signed (what a fetch calls before serving it)."""
        if list_id in self._failing and self._not_before.get(list_id, 0.0) > time.monotonic():
            return  # it cannot be signed just now (logged); serve what was published
        if not known_due and await self._pool.fetchrow(QUERIES["list_due"], list_id) is None:
            return  # current (or no such list: no lock is kept for it)
        # The lock before a connection: fetches waiting their turn hold none.
        async with self._list_locks.setdefault(list_id, asyncio.Lock()), self._pool.acquire() as conn:
            await self._publish(conn, list_id)

    async def publish_lists_of(self, credential_ids: Sequence[str]) -> None:
        """Publish the lists of these credentials if they have unpublished
        changes (what a status change does before it is acknowledged). A list
        that cannot be published now is left to the background pass and to
        the fetch path, as before: the change itself is committed."""
        try:
            for row in await self._pool.fetch(QUERIES["lists_due_of_credentials"], list(credential_ids)):
                await self.current(row["list_id"], known_due=True)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("status lists not published before the response; the next pass will",
                        extra={"error": repr(exc)})

    async def _publish_once(self, conn: asyncpg.Connection, list_id: str) -> None:
        """Publish unless a fetch is regenerating the list right now (it covers its changes)."""
        lock = self._list_locks.setdefault(list_id, asyncio.Lock())
        if not lock.locked():
            async with lock:
                await self._publish(conn, list_id)

    def _forget_quiet_lists(self, now_mono: float) -> None:
        self._not_before = {k: v for k, v in self._not_before.items() if v > now_mono}

    async def _publish(self, conn: asyncpg.Connection, list_id: str) -> None:
        """Regenerate the list if it is due, reading what is due, the bits and
        forgetting the changes published in one snapshot, so a change
        committed meanwhile (even one with a lower change id) is never
        forgotten unpublished. Under the list's lock: read under it, what is
        due already excludes what a regeneration that finished while we
        waited covered. A conflict with another replica publishing the same
        list at once is read again."""
        for attempt in range(2):
            try:
                async with conn.transaction(isolation="repeatable_read"):
                    row = await conn.fetchrow(QUERIES["list_due"], list_id)
                    if row is not None:
                        await self._sign_and_save(conn, row)
                return
            except asyncpg.SerializationError:
                if attempt:
                    log.warning("status list published concurrently by another replica; left to the next pass",
                                extra={"list_id": list_id})

    async def _sign_and_save(self, conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        started = time.perf_counter()
        list_id, issuer_id, purpose = row["list_id"], row["issuer_id"], row["purpose"]
        if self._tried is not None:
            self._tried.add(list_id)
        # After a key compromise the signer must know of it (see mark_issuer_lists).
        await registry_reached(self._registry, row["registry_position"], REGISTRY_WAIT_SECONDS)
        signer = await self._signer(conn, issuer_id)
        if signer is None:
            self._defer(list_id, issuer_id, "the issuer has no usable hosted signing key (yet)")
            return
        did, key_id, private_key = signer
        bits = await self._bits(conn, list_id, purpose, row["size"])
        valid_from = format_time(now())
        url = status_list_url(self._public_base_url, list_id)
        unsigned = status_list_credential(url, did, purpose, bits.encode(), valid_from)
        # The proof set credentials carry too: RDF-based verifiers (the
        # DCC's) check a status list's eddsa-rdfc-2022 proof before reading it.
        document = ProofSetSigner(private_key, verification_method(did, key_id), valid_from, self._loader,
                                  canonical_nquads=self._prototypes.canonical_nquads).secure(unsigned)
        await conn.execute(QUERIES["save_publication"], list_id, row["last_change"], key_id, document,
                           etag_of(document))
        self._not_before[list_id] = time.monotonic() + MIN_LIST_INTERVAL
        self._failing.discard(list_id)
        self._metrics.publications.labels(purpose).inc()
        self._metrics.publish_seconds.observe(time.perf_counter() - started)

    async def _signer(self, conn: asyncpg.Connection, issuer_id: str) -> tuple[str, str, Ed25519PrivateKey] | None:
        state = self._registry.state
        issuer = state.issuers.get(issuer_id)
        key = state.signing_key_at(issuer_id, now())
        if issuer is None or key is None:
            return None
        cache_key = (issuer_id, key.key_id)
        if cache_key not in self._keys:
            try:
                # Opened on first use: without a master key the service still
                # serves what is published and records status changes.
                vault = KeyVault(self._master_key)
                self._keys[cache_key] = await vault.load(conn, issuer_id, key.key_id)
            except VaultError as exc:
                log.warning("hosted key unavailable", extra={"issuer_id": issuer_id, "error": str(exc)})
                return None
        return issuer.event.did, key.key_id, self._keys[cache_key]

    async def _bits(self, conn: asyncpg.Connection, list_id: str, purpose: str, size: int) -> Bitstring:
        bits = Bitstring(size)
        for row in await conn.fetch(QUERIES[INDEX_QUERY[purpose]], list_id):
            index = row[0]
            if 0 <= index < size:
                bits.set(index)
            else:
                log.warning("status index outside its list; not published",
                            extra={"list_id": list_id, "index": index, "size": size})
        return bits

    def _defer(self, list_id: str, issuer_id: str, why: str) -> None:
        if list_id not in self._failing:
            self._failing.add(list_id)
            log.warning("status list not published; will retry",
                        extra={"list_id": list_id, "issuer_id": issuer_id, "why": why})
        self._not_before[list_id] = time.monotonic() + FAILURE_BACKOFF
