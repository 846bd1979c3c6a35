"""A bounded schemathesis run per service, from the OpenAPI document the
service serves: no 5xx, and every answer matches its documented schema.

Fixed and reproducible: hypothesis `derandomize` (the examples depend only
on the schema), no example database, a fixed number of examples per
operation chosen so that each service's run takes well under a minute.
Every operation is called with a valid key of a role it accepts (its
OpenAPI description lists them), so the fuzzing reaches the handlers
instead of stopping at 401/403.

No stateful phase: the generated OpenAPI documents declare no links
between operations (ids are mostly chosen by the server or derived from
hashes), and schemathesis builds its state machine only from links, so it
would have no transitions to run.
"""

from __future__ import annotations

import asyncio
import importlib

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import BOOTSTRAP_ADMIN_KEY
from tests.integration.test_issuance_support import university
from tests.support.http import serving

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
# Requests per service, spread over its operations.
BUDGET = 300
MIN_EXAMPLES = 5


def role_of(spec: dict, path: str, method: str) -> str | None:
    """The first role the operation accepts, or None for a public one."""
    description = spec["paths"][path][method.lower()].get("description", "")
    roles = description.removeprefix("Roles: ").split(", ") if description.startswith("Roles: ") else []
    return roles[0] if roles else None


def fuzz(spec: dict, base_url: str, keys: dict[str, str]) -> list[str]:
    """Every operation's examples; returns the failures, one line each."""
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    examples = max(MIN_EXAMPLES, BUDGET // len(operations))
    failures: list[str] = []
    for operation in operations:
        role = role_of(spec, operation.path, operation.method)
        headers = {"Authorization": f"Bearer {keys[role]}"} if role else {}

        @hypothesis.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, timeout=30,
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:2000]}")
    return failures


@pytest.mark.parametrize("service", ["registry", "issuance", "revocation", "verification"])
async def test_schemathesis_finds_no_5xx_and_no_schema_violation(service, settings, db):
    world, issuer, _ = await university(db, settings)
    keys = {
        "agency_admin": BOOTSTRAP_ADMIN_KEY,
        "issuer": issuer.api_key,
        "employer": await world.client("employer", "acme"),
        "auditor": await world.client("auditor", "audit-co"),
    }
    factory = importlib.import_module(f"services.{service}.app").create_app
    async with serving(factory, settings) as client:
        spec = await (await client.get("/openapi.json")).json()
        base_url = f"http://{client.server.host}:{client.server.port}"
        # The client runs in a thread: this event loop serves the requests.
        failures = await asyncio.to_thread(fuzz, spec, base_url, keys)
    assert not failures, "\n\n".join(failures)
