-- The services and the relay connect as credledger_app; only migrations run
-- as the owner. LOGIN, without a password here: the deployment gives it one
-- (`credledger migrate` sets the password of the services' DATABASE_URL), or
-- the server trusts local connections (the embedded and the test servers).
-- Roles are cluster-wide, so this is idempotent and changes nothing else.
ALTER ROLE credledger_app LOGIN;
