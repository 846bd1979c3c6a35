-- Every hosted issuance moves stacks still under a superseded learner key
-- to the current one (queries.sql, claim_issued): by learner key alone,
-- which the (pathway_id, learner_key) index does not serve.
CREATE INDEX stacks_learner_key_idx ON issuance.stacks (learner_key);
