-- Appenders hold an EXCLUSIVE lock on ledger.events from reading the head to
-- commit (shared/ledger/store.py). Postgres grants that lock mode only with
-- UPDATE, DELETE or TRUNCATE privilege, which credledger_app must not have;
-- this function takes the lock for it, in the caller's transaction, and
-- does nothing else.
CREATE FUNCTION ledger.lock_for_append() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    LOCK TABLE ledger.events IN EXCLUSIVE MODE;
END;
$$;

REVOKE ALL ON FUNCTION ledger.lock_for_append() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.lock_for_append() TO credledger_app;
