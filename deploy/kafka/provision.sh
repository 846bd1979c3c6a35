#!/usr/bin/env bash
# Runs the Apache Kafka image's own start script, then provisions what the
# platform needs before reporting ready (/tmp/provisioned, see the
# healthcheck): SCRAM-SHA-512 principals, the ledger topic and the ACLs.
# Idempotent, so a restart re-applies the same state.
#
# The setup goes through the INTERNAL listener, bound to 127.0.0.1 inside
# this container, whose unauthenticated principal is the super user; every
# other client comes in over SASL_PLAINTEXT (port 9092) as one of these:
#   credledger-relay       writes the ledger topic (and creates it)
#   credledger-reader      the four services: read the ledger topic and
#                          their consumer groups (prefix credledger.)
#   university-example     placeholder for one university's future command
#                          intake: writes only its own commands topic
set -euo pipefail
: "${KAFKA_RELAY_PASSWORD:?}" "${KAFKA_READER_PASSWORD:?}" "${KAFKA_UNIVERSITY_EXAMPLE_PASSWORD:?}"
ledger_topic="${CREDLEDGER_KAFKA_TOPIC_PREFIX:-credledger}.ledger"
partitions="${CREDLEDGER_KAFKA_PARTITIONS:-4}"
bin=/opt/kafka/bin
admin=(--bootstrap-server 127.0.0.1:19092)

rm -f /tmp/provisioned
/etc/kafka/docker/run &
broker=$!
until "$bin/kafka-broker-api-versions.sh" "${admin[@]}" >/dev/null 2>&1; do
    kill -0 "$broker" 2>/dev/null || exit 1
    sleep 1
done

scram() {
    "$bin/kafka-configs.sh" "${admin[@]}" --alter --entity-type users --entity-name "$1" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}
acl() { "$bin/kafka-acls.sh" "${admin[@]}" --add --force "$@"; }

scram credledger-relay "$KAFKA_RELAY_PASSWORD"
scram credledger-reader "$KAFKA_READER_PASSWORD"
scram university-example "$KAFKA_UNIVERSITY_EXAMPLE_PASSWORD"

"$bin/kafka-topics.sh" "${admin[@]}" --create --if-not-exists --topic "$ledger_topic" \
    --partitions "$partitions" --replication-factor 1

acl --allow-principal User:credledger-relay --operation Write --operation Describe --operation Create \
    --topic "$ledger_topic"
acl --allow-principal User:credledger-reader --operation Read --operation Describe --topic "$ledger_topic"
acl --allow-principal User:credledger-reader --operation Read --group "${CREDLEDGER_KAFKA_TOPIC_PREFIX:-credledger}." \
    --resource-pattern-type prefixed
acl --allow-principal User:university-example --operation Write --operation Describe \
    --topic "${CREDLEDGER_KAFKA_TOPIC_PREFIX:-credledger}.commands.university-example"

touch /tmp/provisioned
wait "$broker"
