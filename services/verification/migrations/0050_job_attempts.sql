-- A job that keeps stopping its worker (a crash, a kill, a bug) must not hold
-- the queue: every claim counts as an attempt, and after a bounded number the
-- job is `failed` with the reason, so the jobs behind it run.

ALTER TABLE verification.jobs
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    -- Why the last attempt ended without finishing (shown to the owner once failed).
    ADD COLUMN last_error text;

ALTER TABLE verification.jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE verification.jobs
    ADD CONSTRAINT jobs_status_check CHECK (status IN ('queued', 'running', 'completed', 'failed'));

DROP INDEX verification.jobs_unfinished_idx;
CREATE INDEX jobs_unfinished_idx ON verification.jobs (created_at) WHERE status IN ('queued', 'running');
