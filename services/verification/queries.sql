-- name: insert_job
-- Inserted first (the inputs reference it) and sealed once the upload ended;
-- both in the upload's transaction, so no one ever sees a half-uploaded job.
INSERT INTO verification.jobs (job_id, owner_client_id, owner_tenant_id, status, input_format, total, chunks)
VALUES ($1, $2, $3, 'queued', $4, 0, 0)

-- name: insert_input
INSERT INTO verification.job_inputs (job_id, chunk_no, lines, data) VALUES ($1, $2, $3, $4)

-- name: seal_job
UPDATE verification.jobs SET total = $2, chunks = $3, csv_columns = $4, updated_at = now() WHERE job_id = $1

-- name: job_of_owner
SELECT job_id, status, total, done, counts, created_at, started_at, updated_at
  FROM verification.jobs
 WHERE job_id = $1 AND owner_client_id = $2

-- name: claim_job
-- The oldest unfinished job whose lease is free or expired. SKIP LOCKED lets
-- replicas claim different jobs at the same time without waiting.
UPDATE verification.jobs
   SET lease_owner = $1, lease_until = now() + make_interval(secs => $2), status = 'running',
       started_at = coalesce(started_at, now()), updated_at = now()
 WHERE job_id = (
        SELECT job_id FROM verification.jobs
         WHERE status <> 'completed' AND (lease_until IS NULL OR lease_until < now())
         ORDER BY created_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED)
RETURNING job_id, input_format, csv_columns, chunks, next_chunk, done, counts

-- name: input_chunk
SELECT lines, data FROM verification.job_inputs WHERE job_id = $1 AND chunk_no = $2

-- name: advance_job
-- Only the lease holder, and only from the chunk it expects: a replica that
-- lost its lease (or a duplicate run) changes nothing.
UPDATE verification.jobs
   SET next_chunk = $2 + 1, done = done + $3, counts = $4::jsonb,
       lease_until = now() + make_interval(secs => $6), updated_at = now()
 WHERE job_id = $1 AND next_chunk = $2 AND lease_owner = $5
RETURNING next_chunk

-- name: insert_result
INSERT INTO verification.job_results (job_id, chunk_no, data) VALUES ($1, $2, $3)

-- name: complete_job
UPDATE verification.jobs
   SET status = 'completed', lease_owner = NULL, lease_until = NULL, updated_at = now()
 WHERE job_id = $1 AND lease_owner = $2

-- name: release_jobs
-- On a clean shutdown: hand unfinished jobs back at once instead of letting
-- their leases run out.
UPDATE verification.jobs SET lease_until = NULL, lease_owner = NULL
 WHERE lease_owner = $1 AND status <> 'completed'

-- name: result_chunk
SELECT data FROM verification.job_results WHERE job_id = $1 AND chunk_no = $2
