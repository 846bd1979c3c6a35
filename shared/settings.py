"""Typed settings, read once from the environment.

Every port, URL and secret has a default that works on a developer machine;
production overrides them through the environment (twelve-factor). Settings
are read in one place so that `credledger up` can hand the same values to
every child process and a typo in a variable name fails loudly at start.
"""

from __future__ import annotations

import os
from typing import Literal

import msgspec

ServiceName = Literal["registry", "issuance", "revocation", "verification", "wallet", "employer"]
SERVICE_NAMES: tuple[ServiceName, ...] = ("registry", "issuance", "revocation", "verification", "wallet",
                                          "employer")

DEFAULT_PORTS: dict[ServiceName, int] = {
    "registry": 8081,
    "issuance": 8082,
    "revocation": 8083,
    "verification": 8084,
    "wallet": 8087,
    "employer": 8088,
}

_ENV_PREFIX = "CREDLEDGER_"
# Kafka settings of our own; the client's connection settings keep their
# conventional names (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SASL_MECHANISM, ...).
_PREFIXED_KAFKA = ("kafka_topic_prefix", "kafka_partitions")


# Owner credentials: `credledger migrate` (and `up`) use them, and they never
# reach a service, the relay or any other child process.
OWNER_ONLY = ("migration_database_url",)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = "postgresql://postgres@127.0.0.1:5432/credledger"
    # The schema owner's URL, for migrations only; when set, `database_url` is
    # the least-privileged `credledger_app` role's (default: `database_url`).
    migration_database_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Broker authentication: SASL (SCRAM) over plaintext or TLS; PLAINTEXT
    # means none (the embedded broker, README "Security model").
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["", "SCRAM-SHA-512", "SCRAM-SHA-256"] = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_topic_prefix: str = "credledger"
    kafka_partitions: int = 4
    host: str = "127.0.0.1"
    registry_port: int = DEFAULT_PORTS["registry"]
    issuance_port: int = DEFAULT_PORTS["issuance"]
    revocation_port: int = DEFAULT_PORTS["revocation"]
    verification_port: int = DEFAULT_PORTS["verification"]
    wallet_port: int = DEFAULT_PORTS["wallet"]
    employer_port: int = DEFAULT_PORTS["employer"]
    relay_port: int = 8085
    # The Kafka command intake's /healthz, /readyz and /metrics (services/intake).
    intake_port: int = 8086
    gateway_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    # The environment this process runs in. "production" refuses unsafe
    # development shortcuts such as the bootstrap admin key.
    environment: Literal["development", "test", "production"] = "development"
    bootstrap_admin_key: str = ""
    # The transparency log: the origin line of its checkpoints and the
    # Ed25519 seed (base64, 32 bytes) they are signed with.
    log_origin: str = "credledger.local/ledger"
    log_signing_key: str = ""
    # 32 bytes, base64: seals hosted issuer signing keys (shared/key_vault.py).
    master_key: str = ""
    # 32+ bytes, base64: the secret learner keys are HMACs under (stacking
    # and pathways match learners by them). Superseded secrets, comma-
    # separated, still match until their learners are re-keyed.
    learner_key_secret: str = ""
    learner_key_previous_secrets: str = ""
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: float = 10.0
    max_body_bytes: int = 1 * 1024 * 1024
    max_bulk_body_bytes: int = 64 * 1024 * 1024
    db_pool_min: int = 1
    db_pool_max: int = 10
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    # Hosted credentials carry a proof set (eddsa-rdfc-2022 + eddsa-jcs-2022).
    # "jcs-only" is the pre-proof-set signing, kept as bench/issue_bulk.py's
    # baseline; its credentials fail the Open Badges 3.0 schema, so
    # production refuses it.
    credential_proofs: Literal["proof-set", "jcs-only"] = "proof-set"
    # Outgoing mail (shared/mail.py): "file" writes each message as an .eml
    # under mail_outbox (the embedded default, like framework file back-ends);
    # "smtp" sends through smtp_host. smtp_tls: "starttls" upgrades a plain
    # connection, "tls" is implicit TLS (port 465), "none" only for a local relay.
    mail_backend: Literal["file", "smtp"] = "file"
    mail_outbox: str = ".credledger/outbox"
    mail_from: str = "credledger <no-reply@credledger.local>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = 30.0
    # Server-side web sessions and emailed sign-in links (shared/web/); a
    # claim email's link signs in too, and may be opened days later.
    session_max_age_seconds: int = 8 * 3600
    sign_in_link_max_age_seconds: int = 15 * 60
    claim_link_max_age_seconds: int = 7 * 24 * 3600
    # Without a gateway (`credledger up` where nginx is missing) each page
    # links to the service that serves it at its own port, not to the
    # public origin.
    pages_without_gateway: bool = False

    # Where the employer portal reaches the verification service's API
    # (default: its port on this host; compose and Kubernetes name the service).
    verification_url: str = ""

    def port_of(self, service: ServiceName) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def url_of(self, service: ServiceName) -> str:
        return f"http://{self.host}:{self.port_of(service)}"

    def page_origin(self, service: ServiceName) -> str:
        """Where a browser reaches this service's pages."""
        return self.url_of(service) if self.pages_without_gateway else self.public_base_url.rstrip("/")

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}.{name}"

    def to_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings in a child
        (all but the owner's credentials)."""
        return {_env_name(field): str(getattr(self, field))
                for field in self.__struct_fields__ if field not in OWNER_ONLY}


def child_environ(environ: dict[str, str]) -> dict[str, str]:
    """`environ` without the owner's credentials, for a child process."""
    return {name: value for name, value in environ.items() if name not in map(_env_name, OWNER_ONLY)}


def _env_name(field: str) -> str:
    # DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS keep their conventional names
    # so that the usual tooling (psql, docker-compose, k8s secrets) just works.
    if field == "database_url" or field.startswith("kafka_") and field not in _PREFIXED_KAFKA:
        return field.upper()
    return _ENV_PREFIX + field.upper()


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment; a malformed value is a startup error."""
    environ = dict(os.environ) if environ is None else environ
    raw: dict[str, object] = {}
    for field in Settings.__struct_fields__:
        name = _env_name(field)
        if name in environ:
            raw[field] = environ[name]
    raw.update(overrides)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SystemExit(f"invalid configuration: {exc}") from None
    sasl = settings.kafka_security_protocol.startswith("SASL_")
    if sasl != bool(settings.kafka_sasl_mechanism) or sasl and not settings.kafka_sasl_username:
        raise SystemExit(
            "invalid configuration: KAFKA_SECURITY_PROTOCOL SASL_* needs KAFKA_SASL_MECHANISM and"
            " KAFKA_SASL_USERNAME (and KAFKA_SASL_PASSWORD), and only SASL_* takes them"
        )
    if settings.environment == "production" and settings.bootstrap_admin_key:
        raise SystemExit(
            "invalid configuration: CREDLEDGER_BOOTSTRAP_ADMIN_KEY must not be set in production"
        )
    if settings.environment == "production" and settings.mail_backend == "smtp" and settings.smtp_tls == "none":
        raise SystemExit("invalid configuration: CREDLEDGER_SMTP_TLS=none is refused in production")
    if settings.environment == "production" and settings.credential_proofs != "proof-set":
        raise SystemExit("invalid configuration: CREDLEDGER_CREDENTIAL_PROOFS must be proof-set in production")
    return settings
