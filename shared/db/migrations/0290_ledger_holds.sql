-- Whether the ledger holds `hash` at `position`: the anchor check of a
-- projection runner (shared/ledger/delivery/projection.py), callable from a
-- statement of another subsystem (the progress write of a batch the
-- projection does not act on) without that statement naming ledger.events,
-- which the event store owns (docs/ownership.md). One indexed lookup.
CREATE FUNCTION ledger.holds(bigint, bytea) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT EXISTS (SELECT 1 FROM ledger.events WHERE position = $1 AND hash = $2)
$$;
REVOKE ALL ON FUNCTION ledger.holds(bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.holds(bigint, bytea) TO credledger_app;
