-- Reads of the registry's tables (written by projection.py only).

-- name: agency
SELECT * FROM registry.agencies WHERE agency_id = $1

-- name: agency_and_descendants
-- An agency and every agency it created, directly or through sub-agencies.
WITH RECURSIVE tree AS (
    SELECT agency_id FROM registry.agencies WHERE agency_id = $1
    UNION
    SELECT a.agency_id FROM registry.agencies a JOIN tree t ON a.parent_agency_id = t.agency_id
)
SELECT agency_id FROM tree

-- name: accreditation
SELECT * FROM registry.accreditations WHERE accreditation_id = $1

-- name: accreditations_of
SELECT * FROM registry.accreditations
 WHERE subject_kind = $1 AND subject_id = $2
 ORDER BY created_position

-- name: framework
SELECT * FROM registry.frameworks WHERE framework_id = $1

-- name: issuer
-- accredited: see the view registry.issuer_accreditations_in_force.
SELECT i.*, EXISTS (
    SELECT 1 FROM registry.issuer_accreditations_in_force f WHERE f.subject_id = i.issuer_id
) AS accredited
  FROM registry.issuers i
 WHERE i.issuer_id = $1

-- name: issuer_did
-- All a DID document needs besides the keys (a hot public path).
SELECT did FROM registry.issuers WHERE issuer_id = $1

-- name: issuer_keys
SELECT * FROM registry.issuer_keys WHERE issuer_id = $1 ORDER BY added_position

-- name: key_owner
SELECT issuer_id, key_id FROM registry.issuer_keys WHERE public_key_multibase = $1 LIMIT 1

-- name: achievement
SELECT * FROM registry.achievements WHERE achievement_id = $1

-- name: achievements
SELECT * FROM registry.achievements WHERE achievement_id = ANY($1::text[])

-- name: pathway
SELECT * FROM registry.pathways WHERE pathway_id = $1

-- name: client
SELECT * FROM registry.api_clients WHERE client_id = $1

-- name: client_keys
SELECT key_id, created_at, revoked_at FROM registry.api_keys WHERE client_id = $1 ORDER BY created_at, key_id

-- name: tenant_kind
-- What a tenant id names: an agency, an issuer, or nothing registered.
SELECT 'agency' AS kind FROM registry.agencies WHERE agency_id = $1
UNION ALL
SELECT 'issuer' FROM registry.issuers WHERE issuer_id = $1

-- name: list_agencies
SELECT * FROM registry.agencies
 WHERE created_position > $1
   AND ($2::text IS NULL OR jurisdiction = $2 OR jurisdiction LIKE $2 || '-%')
   AND ($3::text IS NULL OR parent_agency_id = $3)
 ORDER BY created_position
 LIMIT $4

-- name: list_accreditations
SELECT * FROM registry.accreditations
 WHERE created_position > $1
   AND ($2::text IS NULL OR status = $2)
   AND ($3::text IS NULL OR country = $3)
   AND ($4::int IS NULL OR scope->'eqf_levels' = '[]'::jsonb OR scope->'eqf_levels' @> to_jsonb($4::int))
   AND ($5::text IS NULL OR accreditor_id = $5)
   AND ($6::text IS NULL OR subject_id = $6)
 ORDER BY created_position
 LIMIT $7

-- name: list_frameworks
SELECT * FROM registry.frameworks
 WHERE created_position > $1
   AND ($2::text IS NULL OR agency_id = $2)
 ORDER BY created_position
 LIMIT $3

-- name: list_issuers
-- status: 'accredited' (as in the issuer query above) or 'unaccredited';
-- eqf_level: accredited now for that level.
WITH in_force AS (
    SELECT subject_id, scope FROM registry.issuer_accreditations_in_force
)
SELECT i.*, EXISTS (SELECT 1 FROM in_force f WHERE f.subject_id = i.issuer_id) AS accredited
  FROM registry.issuers i
 WHERE i.created_position > $1
   AND ($2::text IS NULL OR i.country = $2)
   AND ($3::text IS NULL
        OR ($3 = 'accredited') = EXISTS (SELECT 1 FROM in_force f WHERE f.subject_id = i.issuer_id))
   AND ($4::int IS NULL OR EXISTS (
        SELECT 1 FROM in_force f WHERE f.subject_id = i.issuer_id
           AND (f.scope->'eqf_levels' = '[]'::jsonb OR f.scope->'eqf_levels' @> to_jsonb($4::int))))
 ORDER BY i.created_position
 LIMIT $5

-- name: list_achievements
-- $6: the caller sees every status; $7: issuers whose unapproved
-- achievements the caller may also see. Everyone sees approved ones.
SELECT * FROM registry.achievements
 WHERE created_position > $1
   AND ($2::text IS NULL OR status = $2)
   AND ($3::text IS NULL OR country = $3)
   AND ($4::int IS NULL OR eqf_level = $4)
   AND ($5::text IS NULL OR issuer_id = $5)
   AND (status = 'approved' OR $6::bool OR issuer_id = ANY($7::text[]))
 ORDER BY created_position
 LIMIT $8

-- name: list_pathways
-- Country is the owning issuer's; the EQF level is the award's.
SELECT p.* FROM registry.pathways p
  JOIN registry.issuers i USING (issuer_id)
  LEFT JOIN registry.achievements a ON a.achievement_id = p.award_achievement_id
 WHERE p.created_position > $1
   AND ($2::text IS NULL OR p.status = $2)
   AND ($3::text IS NULL OR i.country = $3)
   AND ($4::int IS NULL OR a.eqf_level = $4)
   AND ($5::text IS NULL OR p.issuer_id = $5)
   AND (p.status = 'approved' OR $6::bool OR p.issuer_id = ANY($7::text[]))
 ORDER BY p.created_position
 LIMIT $8

-- name: list_clients
-- $4: the caller sees every client; otherwise those it created or whose
-- tenant is one of $5.
SELECT * FROM registry.api_clients
 WHERE coalesce(created_position, 0) > $1
   AND ($2::text IS NULL OR role = $2)
   AND ($3::text IS NULL OR (CASE WHEN $3 = 'revoked' THEN revoked_at IS NOT NULL ELSE revoked_at IS NULL END))
   AND ($4::bool OR tenant_id = ANY($5::text[]) OR created_by = ANY($5::text[]))
 ORDER BY created_position
 LIMIT $6

-- name: tenant_registration
-- An employer or auditor tenant is registered by the agency (or platform)
-- that created its first client; that client's role is the tenant's kind.
SELECT created_by, role FROM registry.api_clients
 WHERE tenant_id = $1
 ORDER BY created_position
 LIMIT 1

-- name: organisations_registered_by
SELECT tenant_id FROM (
    SELECT DISTINCT ON (tenant_id) tenant_id, created_by, role
      FROM registry.api_clients
     ORDER BY tenant_id, created_position
) AS first_clients
 WHERE role IN ('employer', 'auditor') AND created_by = ANY($1::text[])

-- name: issuers_overseen
-- Issuers an agency oversees: registered by it or its sub-agencies, or
-- accredited (at any time) by one of them.
SELECT issuer_id FROM registry.issuers WHERE registered_by = ANY($1::text[])
UNION
SELECT subject_id FROM registry.accreditations
 WHERE subject_kind = 'issuer' AND accreditor_id = ANY($1::text[])

-- name: achievement_image
SELECT media_type, content, sha256 FROM registry.achievement_images WHERE achievement_id = $1

-- name: achievement_has_image
SELECT EXISTS (SELECT 1 FROM registry.achievement_images WHERE achievement_id = $1)

-- name: put_achievement_image
INSERT INTO registry.achievement_images (achievement_id, media_type, content, sha256, uploaded_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (achievement_id) DO UPDATE
   SET media_type = EXCLUDED.media_type, content = EXCLUDED.content, sha256 = EXCLUDED.sha256,
       uploaded_at = EXCLUDED.uploaded_at

-- name: bump_achievement_version
UPDATE registry.achievements SET version = $2 WHERE achievement_id = $1

-- name: recognition_agreement
SELECT * FROM registry.recognition_agreements WHERE agreement_id = $1

-- name: list_recognition_agreements
SELECT * FROM registry.recognition_agreements
 WHERE created_position > $1
   AND ($2::text IS NULL OR status = $2)
   AND ($3::text IS NULL OR recognising_id = $3)
 ORDER BY created_position
 LIMIT $4

-- name: insert_recognition_agreement
INSERT INTO registry.recognition_agreements (agreement_id, recognising_kind, recognising_id, title, pathway_ids,
    match, valid_from, valid_until, max_credential_age_days, credit_value, on_revoked, status, version,
    created_position, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11, 'declared', $12, $13, $14)

-- name: revoke_recognition_agreement
UPDATE registry.recognition_agreements SET status = 'revoked', revocation = $2::jsonb, version = $3
 WHERE agreement_id = $1

-- name: insert_framework_reference
INSERT INTO registry.framework_references (framework_id, version, agency_id, target_framework_id, mappings,
    report_url, published_at, position)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)

-- name: framework_references
SELECT * FROM registry.framework_references WHERE framework_id = $1 ORDER BY version

-- name: list_framework_references
SELECT * FROM registry.framework_references
 WHERE position > $1
   AND ($2::text IS NULL OR agency_id = $2)
 ORDER BY position
 LIMIT $3

-- name: insert_endorser
INSERT INTO registry.endorsers (endorser_id, agency_id, registered_at, created_position) VALUES ($1, $2, $3, $4)

-- name: endorser
SELECT * FROM registry.endorsers WHERE endorser_id = $1

-- name: store_hosted_key
-- Only the registry writes hosted keys; the services that sign read them
-- through registry.sealed_hosted_key (migration 0220).
INSERT INTO registry.hosted_keys (issuer_id, key_id, sealed_seed) VALUES ($1, $2, $3)

-- The projection of registry events into these tables (projection.py).

-- name: apply_agency_created
INSERT INTO registry.agencies (agency_id, name, jurisdiction, parent_agency_id, scope, version, created_position, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)

-- name: apply_subject_country
SELECT country FROM registry.issuers WHERE issuer_id = $1 AND $2 = 'issuer' UNION ALL SELECT jurisdiction FROM registry.agencies WHERE agency_id = $1 AND $2 = 'agency'

-- name: apply_accreditation_granted
INSERT INTO registry.accreditations (accreditation_id, accreditor_id, subject_kind, subject_id, country, scope, valid_from, valid_until, status, version, created_position, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, 'active', $9, $10, $11)

-- name: apply_accreditation_suspended
UPDATE registry.accreditations SET status = 'suspended', status_reason = $2, suspensions = suspensions || $3::jsonb, version = $4 WHERE accreditation_id = $1

-- name: apply_accreditation_reinstated
UPDATE registry.accreditations SET status = 'active', status_reason = '', suspensions = jsonb_set(suspensions, '{-1,until}', to_jsonb($2::text)), version = $3 WHERE accreditation_id = $1

-- name: apply_accreditation_withdrawn
UPDATE registry.accreditations SET status = 'withdrawn', status_reason = $2, withdrawal = $3::jsonb, version = $4 WHERE accreditation_id = $1

-- name: apply_framework_published
INSERT INTO registry.frameworks (framework_id, agency_id, name, credit_system, hours_per_credit, levels, version, created_position, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) ON CONFLICT (framework_id) DO UPDATE SET name = EXCLUDED.name, credit_system = EXCLUDED.credit_system, hours_per_credit = EXCLUDED.hours_per_credit, levels = EXCLUDED.levels, version = EXCLUDED.version

-- name: apply_issuer_registered
INSERT INTO registry.issuers (issuer_id, registered_by, legal_name, country, did, homepage, email, identifiers, version, created_position, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $11)

-- name: apply_issuer_updated
UPDATE registry.issuers SET legal_name = $2, homepage = $3, email = $4, version = $5, updated_at = $6 WHERE issuer_id = $1

-- name: apply_bump_issuer
UPDATE registry.issuers SET version = $2 WHERE issuer_id = $1

-- name: apply_key_added
INSERT INTO registry.issuer_keys (issuer_id, key_id, public_key_multibase, custody, valid_from, valid_until, added_position) VALUES ($1, $2, $3, $4, $5, $6, $7)

-- name: apply_key_retired
UPDATE registry.issuer_keys SET valid_until = $3 WHERE issuer_id = $1 AND key_id = $2

-- name: apply_key_compromised
UPDATE registry.issuer_keys SET compromised_at = $3, compromise_reason = $4 WHERE issuer_id = $1 AND key_id = $2

-- name: apply_achievement_proposed
INSERT INTO registry.achievements (achievement_id, issuer_id, status, spec, country, eqf_level, version, created_position, created_at) VALUES ($1, $2, 'proposed', $3::jsonb, $4, $5, $6, $7, $8)

-- name: apply_achievement_status
UPDATE registry.achievements SET status = $2, decided_by = coalesce($3, decided_by), decided_at = coalesce($4, decided_at), status_reason = $5, version = $6 WHERE achievement_id = $1

-- name: apply_pathway_proposed
INSERT INTO registry.pathways (pathway_id, issuer_id, title, award_achievement_id, rule, status, version, created_position, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, 'proposed', $6, $7, $8)

-- name: apply_pathway_approved
UPDATE registry.pathways SET status = 'approved', decided_by = $2, decided_at = $3, version = $4 WHERE pathway_id = $1

-- name: apply_pathway_withdrawn
UPDATE registry.pathways SET status = 'withdrawn', status_reason = $2, version = $3 WHERE pathway_id = $1

-- name: apply_client_created
INSERT INTO registry.api_clients (client_id, tenant_id, role, name, rate_limit_class, created_at, created_by, version, created_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: apply_bump_client
UPDATE registry.api_clients SET version = $2 WHERE client_id = $1

-- name: apply_api_key_issued
INSERT INTO registry.api_keys (key_hash, key_id, client_id, created_at) VALUES ($1, $2, $3, $4)

-- name: apply_api_key_revoked
UPDATE registry.api_keys SET revoked_at = $3 WHERE key_id = $1 AND client_id = $2

-- name: apply_client_revoked
UPDATE registry.api_clients SET revoked_at = $2, version = $3 WHERE client_id = $1

-- name: root_agencies_in
SELECT agency_id FROM registry.agencies WHERE parent_agency_id IS NULL AND jurisdiction = $1 ORDER BY created_position
