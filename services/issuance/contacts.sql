-- name: remember_contacts
-- One statement for a whole batch; the keys are distinct (a row may be
-- updated once per statement) and sorted, so concurrent batches that share
-- learners lock their rows in the same order.
INSERT INTO issuance.learner_contacts (learner_key, sealed_address)
SELECT * FROM unnest($1::text[], $2::bytea[])
ON CONFLICT (learner_key) DO UPDATE SET sealed_address = EXCLUDED.sealed_address, updated_at = now();

-- name: contact_of
SELECT sealed_address FROM issuance.learner_contacts WHERE learner_key = $1;
