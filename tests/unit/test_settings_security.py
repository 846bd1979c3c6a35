"""Security settings: broker SASL options reach every Kafka client, bad
combinations fail at start, and the owner's database URL never reaches a
child process."""

from __future__ import annotations

import pytest

from shared.bus import KafkaAuth
from shared.db.migrate import with_user
from shared.settings import child_environ, load_settings

SCRAM = {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
         "KAFKA_SASL_USERNAME": "credledger-relay", "KAFKA_SASL_PASSWORD": "s3cret"}


def test_scram_settings_become_aiokafka_options():
    options = KafkaAuth.of(load_settings(environ=SCRAM)).client_options()
    assert options == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "credledger-relay", "sasl_plain_password": "s3cret"}
    tls = KafkaAuth.of(load_settings(environ={**SCRAM, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})).client_options()
    assert tls["security_protocol"] == "SASL_SSL" and tls["ssl_context"] is not None


def test_default_is_plaintext_without_sasl():
    assert KafkaAuth.of(load_settings(environ={})).client_options() == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("environ", [
    {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
    {**SCRAM, "KAFKA_SASL_USERNAME": ""},
    {"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
    {**SCRAM, "KAFKA_SASL_MECHANISM": "PLAIN"},
])
def test_incomplete_or_unknown_sasl_settings_fail_at_start(environ):
    with pytest.raises(SystemExit, match="invalid configuration"):
        load_settings(environ=environ)


def test_owner_url_never_reaches_a_child():
    owner = "postgresql://owner:pw@db:5432/credledger"
    settings = load_settings(environ={"CREDLEDGER_MIGRATION_DATABASE_URL": owner,
                                      "DATABASE_URL": with_user(owner, "credledger_app", "app-pw")})
    assert settings.migration_database_url == owner
    env = settings.to_env()
    assert owner not in env.values() and env["DATABASE_URL"] == "postgresql://credledger_app:app-pw@db:5432/credledger"
    assert child_environ({"CREDLEDGER_MIGRATION_DATABASE_URL": owner, "PATH": "/bin"}) == {"PATH": "/bin"}
