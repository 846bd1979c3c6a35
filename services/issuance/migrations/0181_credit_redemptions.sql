-- Credits redeemed by stacked awards (services/issuance/redemptions.py).
-- One row per component and credit pool: the primary key is what stops two
-- concurrent claims (of two pathways of one pool, say) from redeeming the
-- same credit twice; the second insert waits for the first to commit and
-- then finds the row taken. Written in the award's transaction; deleted
-- when the award is revoked, so the credits can count again.
CREATE TABLE issuance.credit_redemptions (
    credential_id       text        NOT NULL,
    credit_pool         text        NOT NULL,
    award_credential_id text        NOT NULL,
    stack_id            text        NOT NULL,
    pathway_id          text        NOT NULL,
    agreement_id        text,
    credits             double precision NOT NULL,
    redeemed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential_id, credit_pool)
);
CREATE INDEX credit_redemptions_award_idx ON issuance.credit_redemptions (award_credential_id);

-- Authorisations a learner gave an issuer to read its credit account
-- (services/issuance/credit_account.py). The learner key stays here, never
-- in the CreditAccountShared event.
CREATE TABLE issuance.credit_grants (
    grant_id    text        PRIMARY KEY,
    learner_key text        NOT NULL,
    issuer_id   text        NOT NULL,
    valid_until timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_grants_learner_idx ON issuance.credit_grants (learner_key);

GRANT SELECT, INSERT, DELETE ON issuance.credit_redemptions TO credledger_app;
GRANT SELECT, INSERT, UPDATE ON issuance.credit_grants TO credledger_app;
