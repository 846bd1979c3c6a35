-- The learner wallet's own state. Credentials and pathways are not copied
-- here: they are read from issuance, which owns them. What the wallet owns
-- is what the learner decides (share links' names, privacy) and the claim
-- emails it owes.

CREATE SCHEMA IF NOT EXISTS wallet;

-- Share links the learner made. The ledger event verification projects
-- carries only the token's SHA-256; the token is kept here sealed (under a
-- key derived from the master key) so the learner can copy the link again,
-- and the name the learner gave it stays here only.
CREATE TABLE wallet.share_links (
    share_id      uuid        PRIMARY KEY,
    credential_id text        NOT NULL,
    name          text        NOT NULL,
    sealed_token  bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX share_links_credential_idx ON wallet.share_links (credential_id);

CREATE TABLE wallet.privacy (
    credential_id text        PRIMARY KEY,
    private       boolean     NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per issued credential whose learner is owed a claim email; the
-- projection inserts it (idempotent by credential id) in the transaction
-- that records its ledger position, the sender marks it sent.
CREATE TABLE wallet.claim_mails (
    credential_id   text        PRIMARY KEY,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text        NOT NULL DEFAULT ''
);
CREATE INDEX claim_mails_due_idx ON wallet.claim_mails (next_attempt_at) WHERE sent_at IS NULL;

GRANT USAGE ON SCHEMA wallet TO credledger_app;
GRANT SELECT, INSERT, UPDATE ON wallet.share_links, wallet.privacy, wallet.claim_mails TO credledger_app;

-- Claim emails are for credentials issued from now on: a wallet added to a
-- running platform does not write to every learner of its history.
INSERT INTO ledger.projection_progress (projection, position, hash)
SELECT 'wallet-claims', position, hash FROM ledger.events ORDER BY position DESC LIMIT 1
ON CONFLICT (projection) DO NOTHING;
