"""The bundled contexts: the platform's own is pinned, every issued
credential expands strictly (nothing dropped), and the chosen RDFC library
agrees with the reference one on credentials of every shape."""

from __future__ import annotations

import hashlib
import json

import pytest

from services.issuance.document import evidence_objects
from services.issuance.schemas import EvidenceItem
from shared.jsonld.contexts import BUNDLED, CONTEXT_DIR, ContextLoader, platform_context_bytes
from shared.jsonld.rdfc import canonical_nquads
from tests.support import independent_rdfc
from tests.unit.test_issuance_signing import BASE, draft, signed

# Published: a changed context is a new version at a new URL, never new bytes here.
PLATFORM_CONTEXT_V1_SHA256 = "7669e59c88ebe499fa78164bc7ef6edbc4feafcda9cd058f8aa58468028ce0c2"
RICH = dict(prerequisites=["Basic Python"], identity_check="photo id at the exam", grading_scheme="A-F",
            framework_id="nfq", level_code="8", image="https://uni-1.example/badge.png", achievement_type="Short Course")


def test_the_published_platform_context_never_changes():
    assert hashlib.sha256(platform_context_bytes()).hexdigest() == PLATFORM_CONTEXT_V1_SHA256


def test_every_bundled_context_is_a_json_ld_context_file():
    for name in [*BUNDLED.values(), "credledger-v1.jsonld"]:
        assert isinstance(json.loads((CONTEXT_DIR / name).read_bytes())["@context"], dict | list), name


def credentials() -> list[dict]:
    evidence = tuple(evidence_objects([EvidenceItem(url="https://uni-1.example/e/1", narrative="Placement",
                                                    genre="workplace learning")]))
    events = [*signed([draft(0)]), *signed([draft(1, grade="B", evidence=evidence)], **RICH)]
    return [json.loads(bytes(event.document)) for event in events]


@pytest.mark.parametrize("index", [0, 1])
def test_issued_credentials_expand_strictly(index):
    document = credentials()[index]
    assert document["@context"][-1] == f"{BASE}/contexts/credledger/v1.jsonld"
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    assert independent_rdfc.dropped_terms(unsecured) == []
    assert independent_rdfc.dropped_terms(document) == []


def test_the_strictness_check_sees_what_the_platform_context_defines():
    document = {k: v for k, v in credentials()[1].items() if k != "proof"}
    document["@context"] = document["@context"][:2]
    dropped = independent_rdfc.dropped_terms(document)
    assert "$.credentialSubject.achievement.euStandardElements" in dropped


@pytest.mark.parametrize("index", [0, 1])
def test_pyoxigraph_and_pyld_give_the_same_canonical_nquads(index):
    document = credentials()[index]
    for form in (document, {k: v for k, v in document.items() if k != "proof"}):
        assert canonical_nquads(form, ContextLoader(BASE)) == independent_rdfc.canonize(form)
