"""Delivery: the ledger's events to their consumers, at least once and in
order. The relay publishes positions to Kafka and records its progress only
after the broker acknowledges; projections catch up from the event store,
then follow the topic, checking each record against the chain (`feed`) and
filling any gap from the store. Its tables are the progress rows
(queries.sql); events are read through the event store's readers.
"""
