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
SELECT job_id, status, total, done, counts, created_at, started_at, updated_at, attempts, last_error,
       input_format, csv_columns
  FROM verification.jobs
 WHERE job_id = $1 AND owner_client_id = $2

-- name: fail_exhausted_jobs
-- Jobs whose attempts are used up and that no live worker holds: failed with
-- the last reason known (a worker killed mid-job leaves none but its count).
UPDATE verification.jobs
   SET status = 'failed', lease_owner = NULL, lease_until = NULL, updated_at = now(),
       last_error = coalesce(last_error, 'the worker stopped while working on it')
 WHERE status IN ('queued', 'running') AND attempts >= $1 AND (lease_until IS NULL OR lease_until < now())
RETURNING job_id, attempts, last_error

-- name: claim_job
-- The oldest unfinished job whose lease is free or expired. SKIP LOCKED lets
-- replicas claim different jobs at the same time without waiting. Each claim
-- is an attempt; a clean release gives it back.
UPDATE verification.jobs
   SET lease_owner = $1, lease_until = now() + make_interval(secs => $2), status = 'running',
       attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()
 WHERE job_id = (
        SELECT job_id FROM verification.jobs
         WHERE status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < now())
           AND attempts < $3
         ORDER BY created_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED)
RETURNING job_id, input_format, csv_columns, chunks, next_chunk, done, counts, attempts

-- name: attempt_failed
-- The worker caught the failure: the lease is handed back at once (the next
-- attempt need not wait for it to expire), or the job fails for good.
UPDATE verification.jobs
   SET last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = now(),
       status = CASE WHEN attempts >= $4 THEN 'failed' ELSE status END
 WHERE job_id = $1 AND lease_owner = $2
RETURNING status

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
UPDATE verification.jobs SET lease_until = NULL, lease_owner = NULL, attempts = greatest(attempts - 1, 0)
 WHERE lease_owner = $1 AND status = 'running'

-- name: result_chunk
SELECT data FROM verification.job_results WHERE job_id = $1 AND chunk_no = $2

-- name: result_chunk_with_input
SELECT r.data, i.data AS input
  FROM verification.job_results r JOIN verification.job_inputs i USING (job_id, chunk_no)
 WHERE r.job_id = $1 AND r.chunk_no = $2

-- The log tree and read-model snapshots (logtree.py, snapshot.py).

-- name: latest_log_tree_snapshot
SELECT size, leaves, last_hash FROM verification.log_tree_snapshots ORDER BY size DESC LIMIT 1

-- name: save_log_tree_snapshot
INSERT INTO verification.log_tree_snapshots (size, leaves, last_hash) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING

-- name: prune_log_tree_snapshots
DELETE FROM verification.log_tree_snapshots WHERE size < $1

-- name: insert_snapshot
INSERT INTO verification.snapshots (position, last_hash, format, credentials) VALUES ($1, $2, $3, $4) RETURNING snapshot_id

-- name: insert_snapshot_chunk
INSERT INTO verification.snapshot_chunks VALUES ($1, $2, $3)

-- name: prune_snapshots
DELETE FROM verification.snapshots WHERE snapshot_id < $1

-- name: latest_snapshot
SELECT snapshot_id, position, last_hash, format FROM verification.snapshots WHERE format = ANY($1::int[]) ORDER BY position DESC, snapshot_id DESC LIMIT 1

-- name: snapshot_chunks
SELECT data FROM verification.snapshot_chunks WHERE snapshot_id = $1 ORDER BY chunk_no
