-- The status column holds the states of shared/credential_status.py, as
-- revocation.credentials.status does: issuance now follows flags for review
-- too (tests/integration/test_credential_status_checks.py keeps the two
-- CHECKs and the module the same set).
ALTER TABLE issuance.credentials
    DROP CONSTRAINT credentials_status_check,
    ADD CONSTRAINT credentials_status_check CHECK (status IN ('active', 'revoked', 'suspended', 'flagged'));
