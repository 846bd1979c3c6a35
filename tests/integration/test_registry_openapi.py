"""The registry's OpenAPI document, served at /openapi.json, covers every
route the application answers, with its body, answer and problem types."""

from __future__ import annotations

from tests.support.registry import call

# Served by every service from shared/service.py, documented in the README.
OPERATIONAL = {"/healthz", "/readyz", "/metrics", "/openapi.json"}


def _schema(doc: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref", "")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else ref_or_schema


async def test_openapi_documents_every_route(registry):
    doc = await call(registry, "GET", "/openapi.json")
    assert doc["openapi"] == "3.1.0"
    routes = {(r.method.lower(), r.resource.canonical) for r in registry.server.app.router.routes()
              if r.method != "HEAD" and r.resource.canonical not in OPERATIONAL}
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert len(routes) >= 40
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op["summary"] and op["operationId"], where
            assert "application/problem+json" in op["responses"]["default"]["content"], where
            success = next(code for code in op["responses"] if code != "default")
            if method == "post" and not path.endswith(("/approve", "/reinstate", "/retire", "/revoke")):
                assert "requestBody" in op or success == "201", where
            if "requestBody" in op:
                body = _schema(doc, op["requestBody"]["content"]["application/json"]["schema"])
                assert body.get("additionalProperties") is False, f"{where} accepts unknown fields"
            if path.startswith("/v1/") and method != "get" or path in ("/v1/clients", "/v1/clients/{client_id}"):
                assert op["security"] == [{"apiKey": []}], f"{where} should need a key"
    public = ["/v1/issuers/{issuer_id}", "/issuers/{issuer_id}/did.json", "/v1/achievements",
              "/v1/achievements/{achievement_id}/ob3", "/v1/pathways", "/v1/pathways/{pathway_id}"]
    for path in public:
        assert "security" not in doc["paths"][path]["get"], f"{path} should be public"
    listing = doc["paths"]["/v1/achievements"]["get"]["parameters"]
    assert {"cursor", "limit", "status", "country", "eqf_level"} <= {p["name"] for p in listing}
