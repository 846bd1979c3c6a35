"""The transparency log: what lets anyone check the ledger without trusting
its operator. A Merkle tree (RFC 9162) over v2 leaves, digests of the
entries rather than their payloads; signed C2SP checkpoints of it; inclusion
and consistency proofs; and the audits that recompute the chain and the
tree against the checkpoints. Its tables are the checkpoints and log keys
(queries.sql); events come from the event store's readers.
"""
