-- name: remember_contact
INSERT INTO issuance.learner_contacts (learner_key, sealed_address) VALUES ($1, $2)
ON CONFLICT (learner_key) DO UPDATE SET sealed_address = EXCLUDED.sealed_address, updated_at = now();

-- name: contact_of
SELECT sealed_address FROM issuance.learner_contacts WHERE learner_key = $1;
