-- ledger.append_events (migration 0240) reads the head and the named
-- streams' versions under the append lock. PL/pgSQL plans those reads once
-- per connection and keeps the plan until the table's statistics change, so
-- a connection that first appended while ledger.events was small (every
-- connection of a service started on a young ledger) kept a sequential scan
-- of the whole log for the streams' versions, and every later append paid it
-- while holding the exclusive lock, growing with the log until autovacuum
-- first analysed the table (bench/issue_single.py: 470-1,060 scans of
-- ledger.events per run, 6.6 ms of an 8.1 ms append at 18,000 events; the
-- same reasoning as issuance.claim_issued's migration 0320). With
-- sequential scans costed out while the function plans, the versions come
-- from the (stream_id, version) index and the head from the position key
-- whatever the log's size was when the plan was made. The setting is the
-- function's own and ends when it returns; the chain trigger it fires reads
-- the previous entry by position, which the setting only keeps on its key.
ALTER FUNCTION ledger.append_events(integer[], text[], text[], bytea[], bytea[], integer[], text[], integer[])
    SET enable_seqscan = off;
