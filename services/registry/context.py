"""What every registry command needs, and the one way it writes.

A command reads the tables, decides, then calls `RegistryContext.write`
with its events and the stream versions its decision was based on. The
append, any extra rows (a sealed hosted key) and the table projection all
happen in one transaction: nothing is acknowledged before it is durable,
and a read right after the write sees it. If another writer changed one of
those streams in between, nothing is written and the caller gets a
conflict to retry on fresh data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from services.registry.projection import RegistryTablesProjection
from shared.auth import Principal
from shared.events import CATALOG
from shared.key_vault import KeyVault, VaultError
from shared.ledger.eventstore import readers as ledger_readers
from shared.ledger.eventstore.events import Metadata
from shared.ledger.eventstore.store import AppendConflict, Ledger, NewEvent
from shared.refusals import Conflict, Unavailable

log = logging.getLogger(__name__)

ExtraWrite = Callable[[asyncpg.Connection], Awaitable[None]]
_STREAM_KINDS = {
    "agency": "agency", "accreditation": "accreditation", "framework": "framework", "issuer": "issuer",
    "achievement": "achievement", "pathway": "pathway", "client": "API client",
    "recognition": "recognition agreement", "referencing": "framework referencing", "endorser": "endorser",
}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Caller:
    """Who asked, and under which request id (for the events' metadata)."""

    principal: Principal
    request_id: str = ""

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def tenant(self) -> str:
        return self.principal.tenant_id

    def metadata(self) -> Metadata:
        return self.principal.metadata(self.request_id)


class RegistryContext:
    def __init__(self, pool: asyncpg.Pool, public_base_url: str, master_key: str) -> None:
        self.pool = pool
        self.public_base_url = public_base_url
        self.ledger = Ledger(pool, CATALOG)
        self.projection = RegistryTablesProjection(pool)
        self._master_key = master_key

    def vault(self) -> KeyVault:
        try:
            return KeyVault(self._master_key)
        except VaultError:
            raise Unavailable(
                "hosted signing is not available: this registry has no valid CREDLEDGER_MASTER_KEY;"
                " register an issuer-held public key instead",
                code="not-configured", title="Not available on this registry",
            ) from None

    async def write(
        self,
        caller: Caller,
        events: Sequence[NewEvent],
        expected: Mapping[str, int],
        extra: ExtraWrite | None = None,
        verify: ExtraWrite | None = None,
    ) -> list[int]:
        """`extra` writes rows of its own in the same transaction; `verify`
        checks the tables once they include this write (a Refusal
        from it rolls everything back)."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                appended = {e.stream_id for e in events}
                own = {s: v for s, v in expected.items() if s in appended}
                positions = await self.ledger.append_in(conn, events, caller.metadata(), own)
                await _check_unchanged(conn, {s: v for s, v in expected.items() if s not in appended})
                if extra is not None:
                    await extra(conn)
                await self.projection.catch_up_in(conn)
                if verify is not None:
                    await verify(conn)
        except AppendConflict as exc:
            raise Conflict(_conflict_detail(exc)) from None
        log.info("registry write", extra={
            "events": [e.event.event_type for e in events], "positions": positions,
            "actor": caller.principal.client_id, "tenant": caller.tenant,
        })
        return positions


async def _check_unchanged(conn: asyncpg.Connection, versions: Mapping[str, int]) -> None:
    """Streams the decision read but does not append to (the delegation or
    accreditation it relied on). The ledger only checks the streams it
    appends to; this runs after the append has taken the append lock, so
    none of them can move until commit."""
    if not versions:
        return
    actual = await ledger_readers.stream_versions(conn, list(versions))
    for stream_id, want in versions.items():
        if actual.get(stream_id, 0) != want:
            raise AppendConflict(stream_id, want, actual.get(stream_id, 0))


def _conflict_detail(exc: AppendConflict) -> str:
    kind, _, ident = exc.stream_id.partition(":")
    what = f"{_STREAM_KINDS.get(kind, kind)} {ident!r}"
    if exc.expected == 0:
        return f"{what} already exists; choose another id"
    return f"{what} changed while this request was being decided; read it again and retry"
