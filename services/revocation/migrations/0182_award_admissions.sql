-- Which recognition agreement admitted which component of a stacked award
-- (from StackClaimed version 3), so a revoked agreement's stated effect
-- (services/revocation/cascade.py) finds the awards it concerns.
CREATE TABLE revocation.award_admissions (
    award_credential_id text NOT NULL,
    component_id        text NOT NULL,
    agreement_id        text NOT NULL,
    PRIMARY KEY (award_credential_id, component_id)
);
CREATE INDEX award_admissions_agreement_idx ON revocation.award_admissions (agreement_id);

GRANT SELECT, INSERT ON revocation.award_admissions TO credledger_app;
