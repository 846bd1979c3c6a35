"""OpenAPI 3.1 generated from the endpoint list and its msgspec types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from shared.http.endpoints import Endpoint
from shared.http.problem import PROBLEM_CONTENT_TYPE, ProblemDocument

_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_REF = "#/components/schemas/{name}"


def build_openapi(title: str, version: str, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    types = [ProblemDocument]
    for ep in endpoints:
        types += [t for t in (ep.body, ep.response) if t is not None]
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    schema_of = dict(zip(map(id, types), schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        path = _PATH_PARAM.sub(r"{\1}", ep.path)
        paths.setdefault(path, {})[ep.method.lower()] = _operation(ep, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(ep: Endpoint, schema_of: dict[int, Any]) -> dict[str, Any]:
    problem = {"content": {PROBLEM_CONTENT_TYPE: {"schema": schema_of[id(ProblemDocument)]}}}
    success: dict[str, Any] = {"description": "Success"}
    if ep.response is not None:
        success["content"] = {ep.produces: {"schema": schema_of[id(ep.response)]}}
    elif ep.produces != "application/json":
        success["content"] = {ep.produces: {}}
    op: dict[str, Any] = {
        "operationId": ep.handler.__name__,
        "summary": ep.summary,
        "responses": {str(ep.status): success, "default": {"description": "Problem", **problem}},
    }
    if ep.tags:
        op["tags"] = list(ep.tags)
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(ep.path)
    ] + [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for name, text in ep.query.items()
    ]
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": schema_of[id(ep.body)]}},
        }
    if ep.roles is not None:
        op["security"] = [{"apiKey": []}]
        op["description"] = "Roles: " + ", ".join(sorted(ep.roles))
    return op
