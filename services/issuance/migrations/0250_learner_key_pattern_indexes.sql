-- Every hosted issuance first asks whether any row still carries a learner
-- key of a superseded family (`sha256$…` from before learner keys,
-- `lk$<old key id>$…` after a rotation; queries.sql, claim_issued), and
-- re-keys only if one does. That question is a prefix range, which a btree
-- in the database's collation answers only when the collation is "C";
-- text_pattern_ops compares bytes whatever the collation, and still serves
-- the equality lookups the default indexes served.
CREATE INDEX credentials_learner_key_pattern_idx ON issuance.credentials (learner_key text_pattern_ops);
DROP INDEX issuance.credentials_learner_key_idx;
CREATE INDEX stacks_learner_key_pattern_idx ON issuance.stacks (learner_key text_pattern_ops);
DROP INDEX issuance.stacks_learner_key_idx;
