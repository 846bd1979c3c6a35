-- issuance.claim_issued (migrations 0260, 0310) re-keys rows under
-- superseded learner keys through the learner_key indexes, but PL/pgSQL
-- plans its statement once per connection and keeps that plan until the
-- table's statistics change. A connection that first ran it while
-- issuance.credentials was small (every connection of a service started
-- on a young database) planned a sequential scan for the re-keying, which
-- is cheapest on a near-empty table, and kept it as the table grew: in
-- bench/issue_single.py most groups read the whole table (5.4 ms of a
-- 6.2 ms claim at 24,000 rows, growing with the table) until autovacuum
-- first analysed it. With sequential scans costed out while the function
-- plans, its UPDATEs take the indexes whatever the table's size was when
-- the plan was made; the INSERTs scan no table, so nothing else changes.
-- The setting is the function's own: it ends when the function returns, so
-- claim_and_append's append (ledger.append_events) plans as before.
ALTER FUNCTION issuance.claim_issued(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[]) SET enable_seqscan = off;
