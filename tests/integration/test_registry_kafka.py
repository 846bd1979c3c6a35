"""Registry decisions reach the other services through Kafka: a RegistryState
kept by a projection that follows the broker (as issuance's and
verification's do) sees what may be issued, by whom, with which key."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from shared.events import CATALOG
from shared.ledger.delivery.projection import ProjectionRunner
from shared.ledger.delivery.relay import Relay
from shared.ledger.eventstore.store import Ledger
from shared.registry_state import RegistryProjection, RegistryState
from shared.timeutil import format_time, now
from tests.support.registry import Demo, call
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def state_over_kafka(settings, db):
    """The relay publishing the ledger, and a RegistryState following the
    topic. After its start-up catch-up the runner never polls the ledger on
    its own (idle check once an hour): only Kafka records move it."""
    stop = asyncio.Event()
    relay = Relay(settings.database_url, settings.kafka_bootstrap_servers, settings.topic("ledger"),
                  partitions=settings.kafka_partitions, poll_interval=0.2)
    state = RegistryState()
    runner = ProjectionRunner(RegistryProjection(state, "test.registry_state"), Ledger(db, CATALOG),
                              settings.kafka_bootstrap_servers, settings.topic("ledger"), group_id=None,
                              partitions=settings.kafka_partitions, idle_check_interval=3600)
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(runner.run(stop))]
    await runner.caught_up.wait()
    try:
        yield state
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_registry_decisions_reach_issuance_state_through_kafka(registry, registry_db, registry_settings):
    client = registry
    async with state_over_kafka(registry_settings, registry_db) as state:
        demo = await Demo(client, "IE").build()
        achievement_id = await demo.propose()

        async def seen(probe):
            return await eventually(lambda: _truthy(probe()))

        await seen(lambda: achievement_id in state.achievements)
        # Unapproved: issuance must refuse it.
        assert state.approved_achievement(achievement_id) is None
        await demo.approve(achievement_id)
        await seen(lambda: state.approved_achievement(achievement_id))

        moment = now()
        assert state.accreditation_for(demo.issuer_id, moment, 6, "0613").accreditation_id == demo.accreditation_id
        assert state.accreditation_for(demo.issuer_id, moment, 8, "0613") is None  # beyond its scope
        assert state.signing_key_at(demo.issuer_id, moment).key_id == "key-1"

        # A suspended accreditation: the issuer cannot issue.
        await call(client, "POST", f"/v1/accreditations/{demo.accreditation_id}/suspend", demo.admin_key,
                   {"reason": "inspection"})
        await seen(lambda: state.accreditations[demo.accreditation_id].status == "suspended")
        assert state.accreditation_for(demo.issuer_id, now(), 6, "0613") is None

        # A lapsing accreditation: in force until its end, not after.
        until = now() + dt.timedelta(days=30)
        lapsing = (await call(client, "POST", "/v1/accreditations", demo.admin_key, {
            "subject_kind": "issuer", "subject_id": demo.issuer_id, "scope": {"eqf_levels": [6]},
            "valid_until": format_time(until)}, 201))["accreditation"]["accreditation_id"]
        await seen(lambda: lapsing in state.accreditations)
        assert state.accreditation_for(demo.issuer_id, now(), 6, "0613").accreditation_id == lapsing
        assert state.accreditation_for(demo.issuer_id, until + dt.timedelta(seconds=1), 6, "0613") is None

        # Rotation: the new key signs from now on.
        await call(client, "POST", f"/v1/issuers/{demo.issuer_id}/keys/key-1/rotate", demo.issuer_key,
                   {"custody": "hosted"}, 201)
        await seen(lambda: "key-2" in state.issuers[demo.issuer_id].keys)
        assert state.signing_key_at(demo.issuer_id, now() + dt.timedelta(seconds=1)).key_id == "key-2"


async def test_a_suspended_delegation_suspends_what_the_delegate_granted(registry, registry_db, registry_settings):
    client = registry
    async with state_over_kafka(registry_settings, registry_db) as state:
        root = Demo(client, "BE")
        await root.create_agency()
        sub = await call(client, "POST", "/v1/agencies", root.admin_key,
                         {"agency_id": "be-vlg", "name": "Flanders", "jurisdiction": "BE-VLG"}, 201)
        delegate = Demo(client, "BE", agency_id="be-vlg", admin_key=sub["admin_api_key"])
        await delegate.register_issuer()
        await delegate.accredit([6])
        delegation = (await call(client, "GET", "/v1/accreditations?subject_id=be-vlg"))["items"][0]["accreditation_id"]
        await eventually(lambda: _truthy(delegate.accreditation_id in state.accreditations))
        assert state.accreditation_for(delegate.issuer_id, now(), 6, "0613") is not None
        await call(client, "POST", f"/v1/accreditations/{delegation}/suspend", root.admin_key,
                   {"reason": "delegation under review"})
        await eventually(lambda: _truthy(state.accreditations[delegation].status == "suspended"))
        assert state.accreditation_for(delegate.issuer_id, now(), 6, "0613") is None


async def _truthy(value):
    return value or None
