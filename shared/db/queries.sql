-- Named SQL of the database plumbing: migrations and pools (see sql.py).

-- name: lock_migrations
SELECT pg_advisory_lock($1)

-- name: applied_migrations
SELECT component, version, checksum FROM public.schema_migrations

-- name: record_migration
INSERT INTO public.schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)

-- name: unlock_migrations
SELECT pg_advisory_unlock($1)

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = $1

-- name: alter_role_password_statement
SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)

-- name: ping
SELECT 1

-- name: create_bookkeeping
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
