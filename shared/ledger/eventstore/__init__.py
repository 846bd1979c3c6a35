"""The event store: one table, `ledger.events`, appended under an exclusive
lock so positions are gap-free and commit order is position order; each row
carries the hash of its predecessor's, and the database refuses a row that
does not continue the chain (docs/ledger-format.md). It owns the SQL on
`ledger.events` (queries.sql); everyone else reads through `store.Ledger` and
`readers`. It knows nothing of Kafka or of Merkle trees.
"""
