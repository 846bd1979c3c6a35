-- Issuer accreditations in force now, granted by an agency whose own
-- authority holds now (a root agency, or a sub-agency whose delegation chain
-- is in force), as RegistryState.accreditation_for decides it. One view, so
-- the issuer profile and the issuer listing cannot disagree about it.

CREATE VIEW registry.issuer_accreditations_in_force AS
WITH RECURSIVE agencies_in_force AS (
    SELECT agency_id FROM registry.agencies WHERE parent_agency_id IS NULL
    UNION
    SELECT a.agency_id FROM registry.agencies a
      JOIN agencies_in_force p ON a.parent_agency_id = p.agency_id
      JOIN registry.accreditations d
        ON d.subject_kind = 'agency' AND d.subject_id = a.agency_id AND d.accreditor_id = a.parent_agency_id
       AND d.status = 'active' AND d.valid_from <= now() AND (d.valid_until IS NULL OR d.valid_until > now())
)
SELECT a.*
  FROM registry.accreditations a
 WHERE a.subject_kind = 'issuer' AND a.status = 'active'
   AND a.valid_from <= now() AND (a.valid_until IS NULL OR a.valid_until > now())
   AND a.accreditor_id IN (SELECT agency_id FROM agencies_in_force);

GRANT SELECT ON registry.issuer_accreditations_in_force TO credledger_app;
