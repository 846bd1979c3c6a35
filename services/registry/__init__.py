"""The registry: agencies, accreditation, frameworks, issuers and their keys,
achievement specifications, stacking pathways and API clients.

Every change is a ledger event (shared/events/registry.py); the tables in
the `registry` schema are their projection (projection.py), written in the
same transaction as the events, so a read after a write sees it.

    app.py             routes (Endpoint list) and the application factory
    *_handlers.py      HTTP only: parse, call the domain, answer
    http_support.py    the caller, query parameters, cursors
    agencies.py, issuers.py, offerings.py, clients.py
                       the commands: read, check the rules, write events;
                       refusals are shared/refusals.py's, mapped in the middleware
    access.py          who may act on what (tenants, jurisdiction, authority)
    rules.py           the rules as pure functions
    context.py         the one write path (append + projection, expected versions)
    lookups.py, listing.py, queries.sql
                       reads of the tables into views, paginated listings
    recognition.py, recognition_rules.py, recognition_lookups.py,
    recognition_projection.py, recognition_views.py, recognition_handlers.py
                       recognition agreements, framework referencing and
                       endorsers (docs/recognition.md)
    documents.py       did:web DID documents, Open Badges 3.0 Achievements
    schemas.py, views.py
                       request and response bodies (msgspec, in OpenAPI)
"""
