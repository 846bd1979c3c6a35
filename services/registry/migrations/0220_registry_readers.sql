-- The registry's published readers (docs/ownership.md). Other services read
-- API keys and hosted keys only through these functions, never the tables,
-- so the tables can change without them and a service role needs EXECUTE
-- only: SECURITY DEFINER runs them as the schema owner, with a fixed
-- search_path so a caller cannot substitute objects.

CREATE OR REPLACE FUNCTION registry.principal_for_key(p_key_hash bytea)
    RETURNS TABLE (client_id text, role text, tenant_id text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT c.client_id, c.role, c.tenant_id
      FROM registry.api_keys k
      JOIN registry.api_clients c USING (client_id)
     WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL AND c.revoked_at IS NULL
$$;

CREATE OR REPLACE FUNCTION registry.sealed_hosted_key(p_issuer_id text, p_key_id text)
    RETURNS bytea
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT sealed_seed FROM registry.hosted_keys WHERE issuer_id = p_issuer_id AND key_id = p_key_id
$$;

REVOKE ALL ON FUNCTION registry.principal_for_key(bytea), registry.sealed_hosted_key(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION registry.principal_for_key(bytea), registry.sealed_hosted_key(text, text)
    TO credledger_app;
