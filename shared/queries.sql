-- Named SQL of the project package's modules outside the ledger (see
-- shared/db/sql.py). These read other packages' tables only through the
-- readers their owners publish (docs/ownership.md).

-- name: principal_for_key
-- shared/auth.py: the registry's reader of API keys (registry migration 0220).
SELECT client_id, role, tenant_id FROM registry.principal_for_key($1)

-- name: sealed_hosted_key
-- shared/key_vault.py: the registry's reader of sealed hosted keys (registry
-- migration 0220); only the registry writes them.
SELECT registry.sealed_hosted_key($1, $2)
