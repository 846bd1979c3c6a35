"""The ledger: three subsystems, each its own package, split the way
trillian-tessera separates its storage from its API and its log.

- `eventstore`: the append-only, hash-chained event log in Postgres
  (`events` the types and their encoding, `chain` the hash chain, `store`
  appends and reads, `readers` what other code reads).
- `delivery`: getting events to consumers (`relay` publishes to Kafka in
  position order, `projection` keeps read models current from the ledger
  and the topic, `feed` checks what comes off the topic against the chain).
  The Kafka client plumbing is `shared/bus.py`, also used by the intake.
- `transparency`: the public, verifiable view (`leaf` the v2 leaves,
  `merkle` the RFC 9162 tree, `signed_note` C2SP notes and proofs,
  `checkpoints` the signer, `audit` and `parallel_audit` the checks,
  `readers` checkpoints and log keys for the services).

Dependencies point one way: delivery and transparency use the event store
(its types and readers), never each other, and the store depends on neither.
"""
