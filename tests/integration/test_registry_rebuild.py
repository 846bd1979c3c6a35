"""The registry's tables are a projection of the ledger: copy only the ledger
into a fresh database, replay it there, and every row comes out the same as
in the live registry; the in-memory RegistryState other services build
from the same events agrees with the tables."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import msgspec

from services.registry import documents, issuers, lookups
from services.registry.context import RegistryContext
from services.registry.projection import RegistryTablesProjection
from shared.db.migrate import with_database
from shared.events import CATALOG
from shared.ledger.delivery.projection import ProjectionRunner
from shared.ledger.eventstore.store import Ledger
from shared.timeutil import format_time, now
from tests.support.registry import Demo, call, registry_state

TABLES = ["agencies", "accreditations", "frameworks", "issuers", "issuer_keys", "achievements", "pathways",
          "api_clients", "api_keys", "recognition_agreements", "framework_references", "endorsers"]
LEDGER_COLUMNS = ["position", "stream_id", "version", "event_type", "payload", "metadata", "prev_hash", "hash"]


async def snapshot(db: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    tables = {}
    for table in TABLES:
        rows = await db.fetch(f"SELECT * FROM registry.{table} ORDER BY 1, 2")
        tables[table] = [{k: json.loads(v) if k in JSON_COLUMNS and v is not None else v for k, v in r.items()}
                         for r in rows]
    return tables


JSON_COLUMNS = {"scope", "suspensions", "withdrawal", "levels", "identifiers", "spec", "rule", "pathway_ids", "match",
                "revocation", "mappings"}


async def busy_registry(client, country: str) -> Demo:
    """Every kind of registry event, through the API."""
    demo = await Demo(client, country).build()
    admin, issuer, tag = demo.admin_key, demo.issuer_key, country.lower()
    sub = await call(client, "POST", "/v1/agencies", admin, {"agency_id": f"{tag}-he", "name": "HE office",
                                                             "jurisdiction": country, "scope": {"eqf_levels": [6, 7]}}, 201)
    await call(client, "POST", "/v1/frameworks", admin, {"framework_id": f"{tag}-nfq", "name": "NFQ",
               "credit_system": "ECTS", "hours_per_credit": 25,
               "levels": [{"code": "NFQ8", "title": "Honours Bachelor", "eqf_level": 6}]}, 201)
    await demo.register_issuer(f"{tag}-college")
    acc = (await demo.accredit([6], f"{tag}-college"))["accreditation"]["accreditation_id"]
    await call(client, "POST", f"/v1/accreditations/{acc}/suspend", admin, {"reason": "inspection"})
    await call(client, "POST", f"/v1/accreditations/{acc}/reinstate", admin)
    await call(client, "POST", f"/v1/accreditations/{acc}/withdraw", admin,
               {"reason": "closed", "credentials_policy": "keep"})
    await call(client, "PATCH", f"/v1/issuers/{demo.issuer_id}", issuer, {"legal_name": "TU Dublin"})
    await call(client, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/rotate", issuer, {"custody": "hosted"}, 201)
    await call(client, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/compromise", issuer,
               {"compromised_at": format_time(now()), "reason": "laptop stolen"})
    parts = [await demo.propose(), await demo.propose()]
    award = await demo.propose(title="Certificate", framework_id=f"{tag}-nfq", level_code="NFQ8")
    for achievement_id in (*parts, award):
        await demo.approve(achievement_id)
    await call(client, "POST", f"/v1/achievements/{await demo.propose()}/reject", admin, {"reason": "too thin"})
    await call(client, "POST", f"/v1/achievements/{parts[1]}/withdraw", issuer, {"reason": "discontinued"})
    await call(client, "POST", "/v1/pathways", issuer, {"pathway_id": f"{tag}-stack", "title": "Stack",
               "award_achievement_id": award, "rule": {"required": [parts[0]]}}, 201)
    await call(client, "POST", f"/v1/pathways/{tag}-stack/approve", admin)
    employer = await call(client, "POST", "/v1/clients", admin,
                          {"role": "employer", "tenant_id": f"acme-{tag}", "name": "Acme"}, 201)
    cid = employer["client"]["client_id"]
    await call(client, "POST", f"/v1/clients/{cid}/keys", admin, None, 201)
    await call(client, "POST", f"/v1/clients/{cid}/keys/{employer['key_id']}/revoke", admin)
    await call(client, "POST", f"/v1/clients/{sub['admin_client_id']}/revoke", admin)
    await call(client, "POST", f"/v1/frameworks/{tag}-nfq/referencing", admin,
               {"mappings": [{"level_code": "NFQ8", "target_level": "6"}]}, 201)
    await call(client, "POST", "/v1/recognition-agreements", issuer, {
        "agreement_id": f"{tag}-rec", "title": "EQF 6 computing", "credit_value": 5.0,
        "match": {"framework_id": f"{tag}-nfq", "levels": ["NFQ8"], "fields": ["06"]}}, 201)
    await call(client, "POST", f"/v1/recognition-agreements/{tag}-rec/revoke", admin, {"reason": "ended"})
    await demo.register_issuer(f"{tag}-employer")
    await call(client, "POST", "/v1/endorsers", admin, {"endorser_id": f"{tag}-employer"}, 201)
    return demo


async def ledger_only_copy(db: asyncpg.Pool, postgres_admin_url: str, template_database: str) -> str:
    """A freshly migrated database holding nothing but a copy of the ledger."""
    name = f"credledger_rebuild_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    await admin.close()
    url = with_database(postgres_admin_url, name)
    rows = await db.fetch(f"SELECT {', '.join(LEDGER_COLUMNS)} FROM ledger.events ORDER BY position")
    conn = await asyncpg.connect(url)
    await conn.copy_records_to_table("events", schema_name="ledger", columns=LEDGER_COLUMNS,
                                     records=[tuple(r) for r in rows])
    await conn.close()
    return name


async def test_tables_rebuilt_from_the_ledger_alone_equal_the_live_ones(
        registry, registry_db, registry_settings, postgres_admin_url, template_database):
    settings, db = registry_settings, registry_db
    demo = await busy_registry(registry, "IE")
    live = await snapshot(db)
    live_profile = await call(registry, "GET", f"/v1/issuers/{demo.issuer_id}")
    live_did = await call(registry, "GET", f"/issuers/{demo.issuer_id}/did.json")
    assert all(live[t] for t in TABLES), "every table should hold rows"

    name = await ledger_only_copy(db, postgres_admin_url, template_database)
    rebuilt_pool = await asyncpg.create_pool(with_database(postgres_admin_url, name), min_size=1, max_size=2)
    try:
        assert await snapshot(rebuilt_pool) == {t: [] for t in TABLES}
        runner = ProjectionRunner(RegistryTablesProjection(rebuilt_pool), Ledger(rebuilt_pool, CATALOG),
                                  settings.kafka_bootstrap_servers, settings.topic("ledger"), group_id=None)
        await runner.catch_up()
        assert await snapshot(rebuilt_pool) == live
        # What the registry serves from the tables comes out the same too.
        rebuilt = RegistryContext(rebuilt_pool, settings.public_base_url, settings.master_key)
        profile = await issuers.issuer_profile(rebuilt, demo.issuer_id)
        assert msgspec.to_builtins(profile) == live_profile
        keys = await lookups.issuer_key_rows(rebuilt_pool, demo.issuer_id)
        assert documents.did_document(await lookups.issuer_did(rebuilt_pool, demo.issuer_id), keys) == live_did
    finally:
        await rebuilt_pool.close()
        admin = await asyncpg.connect(postgres_admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_in_memory_registry_state_agrees_with_the_tables(registry, registry_db):
    db = registry_db
    demo = await busy_registry(registry, "PL")
    state = await registry_state(db)
    for row in await db.fetch("SELECT * FROM registry.issuer_keys"):
        key = state.key(row["issuer_id"], row["key_id"])
        assert (key.public_key_multibase, key.custody) == (row["public_key_multibase"], row["custody"])
        assert (key.valid_from, key.valid_until, key.compromised_at) == (
            row["valid_from"], row["valid_until"], row["compromised_at"])
    for row in await db.fetch("SELECT achievement_id, status FROM registry.achievements"):
        assert state.achievements[row["achievement_id"]].status == row["status"]
    for row in await db.fetch("SELECT * FROM registry.accreditations"):
        view = lookups.accreditation_view(row)
        assert state.accreditations[row["accreditation_id"]].status == view.status
        assert state.accreditations[row["accreditation_id"]].active_at(now()) == view.in_force
    assert state.pathways["pl-stack"].status == "approved"
    assert state.issuers[demo.issuer_id].event.legal_name == "TU Dublin"
