-- name: recorded_outcomes
SELECT o.reply
  FROM intake.outcomes o
  JOIN unnest($1::text[], $2::uuid[]) AS wanted (issuer_id, command_id) USING (issuer_id, command_id);

-- name: record_outcomes
INSERT INTO intake.outcomes (issuer_id, command_id, kind, outcome, reply)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::bytea[])
    ON CONFLICT (issuer_id, command_id) DO NOTHING;
