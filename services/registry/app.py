"""The registry service's application factory and routes."""

from __future__ import annotations

from aiohttp import web

from services.registry import agency_handlers as agencies
from services.registry import client_handlers as clients
from services.registry import context_handlers as contexts
from services.registry import issuer_handlers as issuers
from services.registry import offering_handlers
from services.registry import public_handlers as public
from services.registry import recognition_handlers as recognition
from services.registry import recognition_views as rv
from services.registry import schemas as s
from services.registry import views as v
from services.registry.http_support import LIST_QUERY, registry_ctx
from services.registry.projection import PROJECTION_NAME, RegistryTablesProjection
from shared.auth import ROLES
from shared.http.common_handlers import AUTH_CHECK, WHOAMI
from shared.http.endpoints import Endpoint
from shared.jsonld.contexts import PLATFORM_CONTEXT_PATH
from shared.service import POOL_KEY, create_service_app, projection_context
from shared.settings import Settings

ADMINS = frozenset({"agency_admin"})
ISSUERS = frozenset({"issuer"})
ADMINS_AND_ISSUERS = frozenset({"agency_admin", "issuer"})
ANY_ROLE = frozenset(ROLES)


def _ep(method: str, path: str, handler, summary: str, tag: str, **options) -> Endpoint:
    return Endpoint(method, path, handler, summary, tags=(tag,), **options)


def _filters(*names: str, status: str = "") -> dict[str, str]:
    described = {
        "status": status, "country": "ISO 3166-1 alpha-2, e.g. IE", "eqf_level": "1-8",
        "issuer_id": "only this issuer's", "agency_id": "only this agency's",
        "parent_agency_id": "only the sub-agencies of this agency",
        "accreditor_id": "granted by this agency", "subject_id": "held by this agency or issuer",
        "role": "agency_admin, issuer, employer or auditor",
    }
    return {**{n: described[n] for n in names}, **LIST_QUERY}


AGENCY_ENDPOINTS = [
    _ep("POST", "/v1/agencies", agencies.create_agency,
        "Create a root agency (platform key) or a sub-agency of the caller's agency, with its first admin key",
        "agencies", body=s.CreateAgency, response=v.AgencyCreatedView, status=201, roles=ADMINS),
    _ep("GET", "/v1/agencies", agencies.list_agencies, "List agencies (public)", "agencies",
        response=v.Page[v.AgencyView], query=_filters("country", "parent_agency_id")),
    _ep("GET", "/v1/agencies/{agency_id}", agencies.get_agency, "One agency (public)", "agencies",
        response=v.AgencyView),
    _ep("POST", "/v1/accreditations", agencies.grant_accreditation,
        "Accredit an issuer or a sub-agency, within the caller's own scope", "accreditations",
        body=s.GrantAccreditation, response=v.AccreditationWritten, status=201, roles=ADMINS),
    _ep("GET", "/v1/accreditations", agencies.list_accreditations, "List accreditations (public)", "accreditations",
        response=v.Page[v.AccreditationView],
        query=_filters("status", "country", "eqf_level", "accreditor_id", "subject_id",
                       status="active, suspended or withdrawn")),
    _ep("GET", "/v1/accreditations/{accreditation_id}", agencies.get_accreditation,
        "One accreditation, with its suspensions and withdrawal (public)", "accreditations",
        response=v.AccreditationView),
    _ep("POST", "/v1/accreditations/{accreditation_id}/suspend", agencies.suspend_accreditation,
        "Suspend an accreditation, with a reason", "accreditations",
        body=s.SuspendAccreditation, response=v.AccreditationWritten, roles=ADMINS),
    _ep("POST", "/v1/accreditations/{accreditation_id}/reinstate", agencies.reinstate_accreditation,
        "Reinstate a suspended accreditation", "accreditations", response=v.AccreditationWritten, roles=ADMINS),
    _ep("POST", "/v1/accreditations/{accreditation_id}/withdraw", agencies.withdraw_accreditation,
        "Withdraw an accreditation for good, with a reason and a policy for credentials already issued",
        "accreditations", body=s.WithdrawAccreditation, response=v.AccreditationWritten, roles=ADMINS),
    _ep("POST", "/v1/frameworks", agencies.publish_framework,
        "Publish a qualification framework (levels, EQF mapping, credit system)", "frameworks",
        body=s.PublishFramework, response=v.FrameworkWritten, status=201, roles=ADMINS),
    _ep("GET", "/v1/frameworks", agencies.list_frameworks, "List frameworks (public)", "frameworks",
        response=v.Page[v.FrameworkView], query=_filters("agency_id")),
    _ep("GET", "/v1/frameworks/{framework_id}", agencies.get_framework, "One framework (public)", "frameworks",
        response=v.FrameworkView),
]

ISSUER_ENDPOINTS = [
    _ep("POST", "/v1/issuers", issuers.register_issuer, "Register an issuer in the caller agency's jurisdiction",
        "issuers", body=s.RegisterIssuer, response=v.IssuerWritten, status=201, roles=ADMINS),
    _ep("GET", "/v1/issuers", issuers.list_issuers, "List issuer profiles (public)", "issuers",
        response=v.Page[v.IssuerView],
        query=_filters("status", "country", "eqf_level", status="accredited or unaccredited (right now)")),
    _ep("GET", "/v1/issuers/{issuer_id}", issuers.get_issuer,
        "An issuer's public profile, with its accreditations and key history", "issuers", response=v.IssuerProfile),
    _ep("PATCH", "/v1/issuers/{issuer_id}", issuers.update_issuer,
        "Update an issuer's name, homepage or email (the issuer or an agency overseeing it)", "issuers",
        body=s.UpdateIssuer, response=v.IssuerWritten, roles=ADMINS_AND_ISSUERS),
    _ep("GET", "/issuers/{issuer_id}/did.json", issuers.did_document,
        "The issuer's did:web DID document: every key it ever registered (public)", "issuers"),
    _ep("GET", "/v1/issuers/{issuer_id}/keys", issuers.list_keys, "The issuer's key history (public)", "keys",
        response=list[v.KeyView]),
    _ep("POST", "/v1/issuers/{issuer_id}/keys", issuers.add_key,
        "Register an issuer-held public key, or have the registry generate a hosted one", "keys",
        body=s.AddKey, response=v.KeyWritten, status=201, roles=ADMINS_AND_ISSUERS),
    _ep("POST", "/v1/issuers/{issuer_id}/keys/{key_id}/rotate", issuers.rotate_key,
        "Add a new key from now and end this key's window now", "keys",
        body=s.RotateKey, response=v.KeyWritten, status=201, roles=ADMINS_AND_ISSUERS),
    _ep("POST", "/v1/issuers/{issuer_id}/keys/{key_id}/retire", issuers.retire_key,
        "End a key's window now (what it signed before stays valid)", "keys",
        response=v.KeyWritten, roles=ADMINS_AND_ISSUERS),
    _ep("POST", "/v1/issuers/{issuer_id}/keys/{key_id}/compromise", issuers.compromise_key,
        "Report a key compromised as of a time: its later signatures are invalid", "keys",
        body=s.CompromiseKey, response=v.KeyWritten, roles=ADMINS_AND_ISSUERS),
]

OFFERING_ENDPOINTS = [
    _ep("POST", "/v1/achievements", offering_handlers.propose_achievement,
        "Propose an achievement specification (the issuer's own)", "achievements",
        body=s.ProposeAchievement, response=v.AchievementWritten, status=201, roles=ISSUERS),
    _ep("GET", "/v1/achievements", offering_handlers.list_achievements,
        "List achievements: approved ones publicly; with a key, also the unapproved ones the caller may see",
        "achievements", response=v.Page[v.AchievementView],
        query=_filters("status", "country", "eqf_level", "issuer_id",
                       status="proposed, approved, rejected or withdrawn")),
    _ep("GET", "/v1/achievements/{achievement_id}", offering_handlers.get_achievement,
        "One achievement specification", "achievements", response=v.AchievementView),
    _ep("GET", "/v1/achievements/{achievement_id}/ob3", public.open_badges_achievement,
        "The achievement as an Open Badges 3.0 Achievement, the one credentials embed (application/ld+json)",
        "achievements"),
    _ep("PUT", "/v1/achievements/{achievement_id}/image", offering_handlers.upload_achievement_image,
        "Upload the achievement's badge image (its issuer): the body is a PNG or an SVG with no scripts,"
        " at most 256 KiB, typed image/png or image/svg+xml", "achievements",
        response=v.AchievementWritten, roles=ISSUERS),
    _ep("POST", "/v1/achievements/{achievement_id}/approve", offering_handlers.approve_achievement,
        "Approve a proposed achievement (an accrediting agency whose accreditation covers it)", "achievements",
        response=v.AchievementWritten, roles=ADMINS),
    _ep("POST", "/v1/achievements/{achievement_id}/reject", offering_handlers.reject_achievement,
        "Reject a proposed achievement, with a reason", "achievements",
        body=s.Decision, response=v.AchievementWritten, roles=ADMINS),
    _ep("POST", "/v1/achievements/{achievement_id}/withdraw", offering_handlers.withdraw_achievement,
        "Withdraw an achievement (its issuer or an accrediting agency)", "achievements",
        body=s.Decision, response=v.AchievementWritten, roles=ADMINS_AND_ISSUERS),
    _ep("POST", "/v1/pathways", offering_handlers.propose_pathway,
        "Propose a stacking pathway to one of the issuer's awards",
        "pathways", body=s.ProposePathway, response=v.PathwayWritten, status=201, roles=ISSUERS),
    _ep("GET", "/v1/pathways", offering_handlers.list_pathways,
        "List pathways: approved ones publicly; with a key, also those the caller may see", "pathways",
        response=v.Page[v.PathwayView],
        query=_filters("status", "country", "eqf_level", "issuer_id", status="proposed, approved or withdrawn")),
    _ep("GET", "/v1/pathways/{pathway_id}", offering_handlers.get_pathway, "One stacking pathway", "pathways",
        response=v.PathwayView),
    _ep("POST", "/v1/pathways/{pathway_id}/approve", offering_handlers.approve_pathway,
        "Approve a proposed pathway (an accrediting agency)", "pathways", response=v.PathwayWritten, roles=ADMINS),
    _ep("POST", "/v1/pathways/{pathway_id}/withdraw", offering_handlers.withdraw_pathway,
        "Withdraw a pathway, or turn a proposal down (its issuer or an accrediting agency)", "pathways",
        body=s.Decision, response=v.PathwayWritten, roles=ADMINS_AND_ISSUERS),
]

CLIENT_ENDPOINTS = [
    _ep("POST", "/v1/clients", clients.create_client,
        "Create an API client and its first key (shown once)", "clients",
        body=s.CreateClient, response=v.ClientCreated, status=201, roles=ADMINS),
    _ep("GET", "/v1/clients", clients.list_clients, "List the API clients the caller may see", "clients",
        response=v.Page[v.ClientView], roles=ANY_ROLE,
        query=_filters("status", "role", status="active or revoked")),
    _ep("GET", "/v1/clients/{client_id}", clients.get_client, "One API client and its keys (never the secrets)",
        "clients", response=v.ClientView, roles=ANY_ROLE),
    _ep("POST", "/v1/clients/{client_id}/keys", clients.issue_key, "Issue another key (shown once)", "clients",
        response=v.ApiKeyIssuedView, status=201, roles=ADMINS),
    _ep("POST", "/v1/clients/{client_id}/keys/{key_id}/revoke", clients.revoke_key, "Revoke one key", "clients",
        response=v.ClientWritten, roles=ADMINS),
    _ep("POST", "/v1/clients/{client_id}/revoke", clients.revoke_client, "Revoke a client and all its keys",
        "clients", response=v.ClientWritten, roles=ADMINS),
]

RECOGNITION_ENDPOINTS = [
    _ep("POST", "/v1/recognition-agreements", recognition.declare_agreement,
        "Declare that credentials of other issuers matching a rule count toward the caller's pathways"
        " (an issuer's own, or every issuer an agency accredits)", "recognition",
        body=rv.DeclareAgreement, response=rv.AgreementWritten, status=201, roles=ADMINS_AND_ISSUERS),
    _ep("GET", "/v1/recognition-agreements", recognition.list_agreements, "List recognition agreements (public)",
        "recognition", response=v.Page[rv.AgreementView],
        query=_filters("status", "issuer_id", "agency_id", status="declared or revoked")),
    _ep("GET", "/v1/recognition-agreements/{agreement_id}", recognition.get_agreement,
        "One recognition agreement (public)", "recognition", response=rv.AgreementView),
    _ep("POST", "/v1/recognition-agreements/{agreement_id}/revoke", recognition.revoke_agreement,
        "Revoke an agreement; awards it admitted components of are kept or flagged, as the agreement says",
        "recognition", body=rv.RevokeAgreement, response=rv.AgreementWritten, roles=ADMINS_AND_ISSUERS),
    _ep("POST", "/v1/frameworks/{framework_id}/referencing", recognition.reference_framework,
        "Publish the next version of a framework's referencing to the EQF or another framework", "recognition",
        body=rv.ReferenceFramework, response=rv.ReferencingWritten, status=201, roles=ADMINS),
    _ep("GET", "/v1/frameworks/{framework_id}/referencing", recognition.get_referencing,
        "A framework's referencing: the current version to each target, and every earlier one (public)",
        "recognition", response=rv.FrameworkReferencing),
    _ep("GET", "/v1/framework-referencing", recognition.list_referencing,
        "Every published framework referencing version (public)", "recognition",
        response=v.Page[rv.ReferencingView], query=_filters("agency_id")),
    _ep("POST", "/v1/endorsers", recognition.register_endorser,
        "Register an organisation the agency registered (an employer) as an endorser", "recognition",
        body=rv.RegisterEndorser, response=rv.EndorserWritten, status=201, roles=ADMINS),
    _ep("GET", "/v1/endorsers/{endorser_id}", recognition.get_endorser, "One endorser (public)", "recognition",
        response=rv.EndorserView),
]

# The ids credentials name, on the public origin; HTML for Accept: text/html.
PUBLIC_ID_ENDPOINTS = [
    _ep("GET", "/achievements/{achievement_id}", public.achievement,
        "An approved achievement as the OB 3.0 Achievement credentials embed (application/ld+json)", "public ids"),
    _ep("GET", "/achievements/{achievement_id}/image", public.achievement_image,
        "The uploaded badge image of an approved achievement", "public ids", produces="image/png"),
    _ep("GET", "/issuers/{issuer_id}", public.issuer_profile,
        "An issuer as an OB 3.0 Profile (application/ld+json)", "public ids"),
    _ep("GET", "/frameworks/{framework_id}", public.framework,
        "A qualifications framework as a schema.org DefinedTermSet (application/ld+json)", "public ids"),
    _ep("GET", PLATFORM_CONTEXT_PATH, contexts.platform_context,
        "The platform's JSON-LD context (v1) for the terms its credentials add to Open Badges 3.0 (public)",
        "contexts", produces=contexts.JSON_LD_MEDIA_TYPE),
]

ENDPOINTS = [WHOAMI, AUTH_CHECK, *AGENCY_ENDPOINTS, *ISSUER_ENDPOINTS, *OFFERING_ENDPOINTS, *RECOGNITION_ENDPOINTS,
             *CLIENT_ENDPOINTS,
             *PUBLIC_ID_ENDPOINTS]


def create_app(settings: Settings) -> web.Application:
    return create_service_app(settings, "registry", ENDPOINTS, contexts=[
        registry_ctx,
        projection_context(lambda app: RegistryTablesProjection(app[POOL_KEY]), group_id=PROJECTION_NAME),
    ])
