-- Learner keys (docs/identity.md). The identityHash in a credential now has
-- a random salt per credential, so it no longer tells two credentials of one
-- learner apart from two learners; stacking, pathway progress and learner
-- lookups match on `learner_key` instead: an HMAC of the identity under the
-- platform's learner-key secret, kept here and nowhere public.
--
-- Rows from before carry their old platform-wide identityHash as their key
-- until the learner is seen again and re-keyed.

ALTER TABLE issuance.credentials ADD COLUMN learner_key text;
UPDATE issuance.credentials SET learner_key = learner_hash;
ALTER TABLE issuance.credentials ALTER COLUMN learner_key SET NOT NULL;
DROP INDEX issuance.credentials_learner_idx;
CREATE INDEX credentials_learner_key_idx ON issuance.credentials (learner_key);

-- `learner_hash` of a stack is now its award's identityHash.
ALTER TABLE issuance.stacks ADD COLUMN learner_key text;
UPDATE issuance.stacks SET learner_key = learner_hash;
ALTER TABLE issuance.stacks ALTER COLUMN learner_key SET NOT NULL;
DROP INDEX issuance.stacks_learner_idx;
-- A learner may hold a pathway's award again after the earlier one was
-- revoked (a new round, services/issuance/stacks.py), so this is not unique.
CREATE INDEX stacks_pathway_learner_key ON issuance.stacks (pathway_id, learner_key);
