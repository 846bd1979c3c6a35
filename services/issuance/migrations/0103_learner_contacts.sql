-- Where to email a learner, for the wallet's claim emails (services/wallet).
-- The address is sealed (AES-256-GCM under a key derived from the master
-- key, bound to the learner key), keyed by the learner key so a stacked
-- award (same learner) finds it too; nothing public carries it.
CREATE TABLE issuance.learner_contacts (
    learner_key    text        PRIMARY KEY,
    sealed_address bytea       NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON issuance.learner_contacts TO credledger_app;
