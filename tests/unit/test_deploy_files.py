"""The deployment files, checked for structure without Docker or a cluster:
what parses, what waits for what, which ports and paths, which metrics."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from credledger.gateway import (
    LIMITS_ENV_PREFIX,
    TEMPLATES_ENV,
    TLS_CERT_ENV,
    TLS_KEY_ENV,
    TLS_PORT_ENV,
    Limits,
    config_from_settings,
    render,
)
from shared.settings import DEFAULT_PORTS, OWNER_ONLY, SERVICE_NAMES, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RELAY_PORT = Settings().relay_port
GATEWAY_PORT = Settings().gateway_port
ONE_SHOTS = {"migrate", "gateway-config"}  # run to completion; nothing to health-check
DASHBOARD_METRICS = (
    "http_requests_total", "http_request_duration_seconds_bucket", "verification_items_total",
    "kafka_consumer_lag", "projection_lag_events", "ledger_head_position", "relay_lag_events",
    "ledger_checkpoint_timestamp_seconds",
)


def load_yaml(path: Path) -> list:
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to parse the deployment YAML")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict:
    return load_yaml(ROOT / "docker-compose.yml")[0]


def known_env_names() -> set[str]:
    gateway = {TEMPLATES_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TLS_PORT_ENV}
    gateway |= {LIMITS_ENV_PREFIX + item.name.upper() for item in fields(Limits)}
    owner = {f"CREDLEDGER_{name.upper()}" for name in OWNER_ONLY}
    return set(Settings().to_env()) | gateway | owner


def is_settings_name(key: str) -> bool:
    return key.startswith("CREDLEDGER_") or key == "DATABASE_URL" or key in {
        name for name in Settings().to_env() if name.startswith("KAFKA_")}


def test_compose_long_running_containers_are_health_checked():
    services = compose()["services"]
    assert {*SERVICE_NAMES, "relay", "gateway", "postgres", "kafka", "prometheus", "grafana"} <= services.keys()
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no", name
        else:
            assert service["healthcheck"]["test"], name


def test_compose_services_wait_for_migrations_and_probe_readyz():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in (*SERVICE_NAMES, "relay"):
        service = services[name]
        assert service["build"] == "." and service["image"] == services["migrate"]["image"]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
        assert service["environment"]["CREDLEDGER_HOST"] == "0.0.0.0"
    for name in SERVICE_NAMES:
        assert services[name]["command"] == ["serve", name]
        assert f"http://127.0.0.1:{DEFAULT_PORTS[name]}/readyz" in services[name]["healthcheck"]["test"]
    assert services["relay"]["command"] == ["relay"]
    assert "CREDLEDGER_LOG_SIGNING_KEY" in services["relay"]["environment"]
    assert f"http://127.0.0.1:{RELAY_PORT}/healthz" in services["relay"]["healthcheck"]["test"]


def test_compose_environment_names_are_settings_names():
    for name, service in compose()["services"].items():
        environment = service.get("environment", {})
        ours = {key for key in environment if is_settings_name(key)}
        assert ours <= known_env_names(), (name, ours - known_env_names())


def test_compose_backends_gateway_and_monitoring():
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:17")
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert services[SERVICE_NAMES[0]]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"

    gateway_config = services["gateway-config"]
    assert "--service-hosts" in gateway_config["command"]
    gateway = services["gateway"]
    assert gateway["depends_on"]["gateway-config"] == {"condition": "service_completed_successfully"}
    assert any(port.endswith(f":{GATEWAY_PORT}") for port in gateway["ports"])
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith("./") or (ROOT / source).exists(), volume


def test_prometheus_scrapes_every_service_and_the_relay():
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")[0]
    targets = {
        (name, sd["port"])
        for job in config["scrape_configs"] for sd in job.get("dns_sd_configs", []) for name in sd["names"]
    }
    assert targets == {*((name, DEFAULT_PORTS[name]) for name in SERVICE_NAMES), ("relay", RELAY_PORT),
                       ("intake", Settings().intake_port)}


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "credledger.json").read_text())


def expressions(board: dict) -> list[str]:
    return [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]


def test_dashboard_panels_query_the_platform_metrics():
    board = dashboard()
    exprs = expressions(board)
    for metric in DASHBOARD_METRICS:
        assert any(metric in expr for expr in exprs), metric
    assert any(e.startswith("histogram_quantile(0.99") and "http_request_duration_seconds" in e for e in exprs)
    assert any(re.search(r"time\(\)\s*-\s*max\(ledger_checkpoint_timestamp_seconds\)", e) for e in exprs)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_grafana_provisioning_matches_the_dashboard():
    datasource = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")[0]
    uids = {source["uid"] for source in datasource["datasources"]}
    for panel in dashboard()["panels"]:
        if "datasource" in panel:
            assert panel["datasource"]["uid"] in uids, panel["title"]
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "credledger.yml")[0]
    mounted = compose()["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in mounted


def k8s_objects() -> list[dict]:
    folder = DEPLOY / "k8s"
    kustomization = load_yaml(folder / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in folder.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    return [doc for name in sorted(listed) for doc in load_yaml(folder / name)]


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def test_k8s_deployments_probe_limit_and_expose_metrics():
    deployments = by_kind(k8s_objects(), "Deployment")
    assert deployments.keys() == {*SERVICE_NAMES, "relay", "intake", "gateway"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        for container in pod["spec"]["containers"]:
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        if name in SERVICE_NAMES:
            container = pod["spec"]["containers"][0]
            assert container["args"] == ["serve", name]
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["ports"][0]["containerPort"] == DEFAULT_PORTS[name]
            assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(DEFAULT_PORTS[name])
    assert deployments["relay"]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(RELAY_PORT)
    intake = deployments["intake"]["spec"]["template"]
    assert intake["spec"]["containers"][0]["args"] == ["intake"]
    assert intake["metadata"]["annotations"]["prometheus.io/port"] == str(Settings().intake_port)


def test_k8s_scaling_disruption_services_and_migration():
    objects = k8s_objects()
    hpa = by_kind(objects, "HorizontalPodAutoscaler")["verification"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "verification"}
    assert hpa["spec"]["minReplicas"] >= 2
    deployments = by_kind(objects, "Deployment")
    assert deployments["relay"]["spec"]["replicas"] == 2  # one active, one standby (advisory lock)
    budgets = {pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for pdb in by_kind(objects, "PodDisruptionBudget").values()}
    assert budgets == deployments.keys()
    services = by_kind(objects, "Service")
    for name in SERVICE_NAMES:
        assert services[name]["spec"]["ports"][0]["port"] == DEFAULT_PORTS[name]  # the gateway's upstream
    job = by_kind(objects, "Job")["credledger-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    config = by_kind(objects, "ConfigMap")["credledger-config"]["data"]
    assert config["CREDLEDGER_HOST"] == "0.0.0.0" and set(config) <= known_env_names()


def test_dockerfile_builds_the_one_image():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert 'ENTRYPOINT ["credledger"]' in text and 'CMD ["serve", ' in text
    assert "CREDLEDGER_HOST=0.0.0.0" in text
    assert "COPY deploy/gateway" in text  # the renderer's templates
    # The build stage declares and can compile the audit's C accelerator.
    assert re.search(r"^COPY pyproject\.toml setup\.py ", text, re.M)
    _, build, runtime = text.split("\nFROM ")
    assert "libssl-dev" in build and "libssl-dev" not in runtime  # build tools stay in the build stage


@pytest.mark.parametrize("tls", [False, True])
def test_gateway_templates_render_completely(tmp_path: Path, tls: bool):
    settings = load_settings(environ={})
    config = config_from_settings(settings, service_hosts=True, tls_cert="/tls/crt", tls_key="/tls/key")
    main = render(config, tmp_path, tls=tls)
    rendered = "\n".join(path.read_text() for path in tmp_path.iterdir())
    assert "{{" not in rendered and "}}" not in rendered
    for name in SERVICE_NAMES:
        assert f"server {name}:{settings.port_of(name)};" in rendered
    assert f"listen 127.0.0.1:{GATEWAY_PORT}" in main.read_text()
    assert ("ssl_certificate /tls/crt;" in rendered) is tls


def test_gateway_limits_come_from_the_environment():
    limits = Limits.from_env({LIMITS_ENV_PREFIX + "CLIENT_RATE": "7r/s", LIMITS_ENV_PREFIX + "BULK_BURST": "9"})
    assert (limits.client_rate, limits.bulk_burst, limits.public_rate) == ("7r/s", 9, Limits().public_rate)


PROVISION = DEPLOY / "kafka" / "provision.sh"
LEDGER_TOPIC = '"$ledger_topic"'


def provisioned_acls() -> list[tuple[str, set[str], str]]:
    """(principal, operations, resource) of every ACL provision.sh adds."""
    text = PROVISION.read_text().replace("\\\n", " ")
    acls = []
    for line in text.splitlines():
        if line.startswith("acl --allow-principal"):
            principal = re.search(r"User:(\S+)", line)[1]
            operations = set(re.findall(r"--operation (\w+)", line))
            resource = re.search(r"--(topic|group) (\S+)", line)
            acls.append((principal, operations, f"{resource[1]}:{resource[2]}"))
    return acls


def test_compose_kafka_takes_only_scram_clients_and_denies_by_default():
    kafka = compose()["services"]["kafka"]
    env = kafka["environment"]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener, address in listeners.items():
        # Only SASL listens beyond the container; the rest is localhost-only.
        assert protocols[listener].startswith("SASL_") or address.startswith("127.0.0.1:"), listener
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["command"] == ["bash", "/provision/provision.sh"]
    assert "./deploy/kafka:/provision:ro" in kafka["volumes"] and PROVISION.exists()
    assert "/tmp/provisioned" in " ".join(kafka["healthcheck"]["test"])


def test_compose_acls_let_only_the_relay_write_the_ledger():
    acls = provisioned_acls()
    writers = {principal for principal, operations, resource in acls
               if resource == f"topic:{LEDGER_TOPIC}" and "Write" in operations}
    assert writers == {"credledger-relay"}
    readers = {principal for principal, operations, resource in acls
               if resource == f"topic:{LEDGER_TOPIC}" and "Read" in operations}
    assert readers == {"credledger-reader"}
    university = [(ops, resource) for principal, ops, resource in acls if principal == "university-example"]
    assert university and all("commands.university-example" in resource for _, resource in university)


def test_compose_processes_authenticate_as_their_own_principals():
    services = compose()["services"]
    for name in (*SERVICE_NAMES, "relay", "migrate"):
        env = services[name]["environment"]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["DATABASE_URL"].startswith("postgresql://credledger_app:"), name
    assert services["relay"]["environment"]["KAFKA_SASL_USERNAME"] == "credledger-relay"
    for name in SERVICE_NAMES:
        assert services[name]["environment"]["KAFKA_SASL_USERNAME"] == "credledger-reader"
    owners = {name for name, service in services.items()
              if "CREDLEDGER_MIGRATION_DATABASE_URL" in service.get("environment", {})}
    assert owners == {"migrate"}


def kafka_users(objects: list[dict]) -> dict[str, list[dict]]:
    return {name: user["spec"]["authorization"]["acls"] for name, user in by_kind(objects, "KafkaUser").items()}


def test_k8s_kafka_is_scram_with_acls_and_only_the_relay_writes_the_ledger():
    objects = k8s_objects()
    [cluster] = by_kind(objects, "Kafka").values()
    listeners = cluster["spec"]["kafka"]["listeners"]
    assert listeners and all(listener["authentication"]["type"] == "scram-sha-512" for listener in listeners)
    assert cluster["spec"]["kafka"]["authorization"]["type"] == "simple"
    topic = Settings(kafka_topic_prefix="credledger").topic("ledger")
    assert topic in by_kind(objects, "KafkaTopic")
    users = kafka_users(objects)
    writers = {name for name, acls in users.items() for acl in acls
               if acl["resource"] == {"type": "topic", "name": topic, "patternType": "literal"}
               and "Write" in acl["operations"]}
    assert writers == {"credledger-relay"}
    assert all("commands.university-example" in acl["resource"]["name"] for acl in users["university-example"])


def container_env(deployment: dict) -> dict[str, dict]:
    return {item["name"]: item for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_k8s_pods_log_in_as_their_kafka_user_and_only_the_job_migrates():
    objects = k8s_objects()
    users = kafka_users(objects)
    config = by_kind(objects, "ConfigMap")["credledger-config"]["data"]
    assert (config["KAFKA_SECURITY_PROTOCOL"], config["KAFKA_SASL_MECHANISM"]) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    for name in (*SERVICE_NAMES, "relay"):
        env = container_env(by_kind(objects, "Deployment")[name])
        user = env["KAFKA_SASL_USERNAME"]["value"]
        assert user == ("credledger-relay" if name == "relay" else "credledger-reader")
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}
        assert user in users and "CREDLEDGER_MIGRATION_DATABASE_URL" not in env
    job = by_kind(objects, "Job")["credledger-migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert "CREDLEDGER_MIGRATION_DATABASE_URL" in {item["name"] for item in job["env"]}
