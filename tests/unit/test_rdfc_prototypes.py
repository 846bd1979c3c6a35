"""The bulk signer's RDFC-1.0 route (one library conversion per prototype,
values put back) gives exactly the library's bytes for every document, and
falls back to the library for values whose RDF form could depend on them."""

from __future__ import annotations

import copy
import json

import pytest

from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc import canonical_nquads
from shared.jsonld.rdfc_prototypes import RdfcPrototypes
from tests.support import independent_rdfc
from tests.unit.test_issuance_signing import BASE
from tests.unit.test_jsonld_contexts import credentials

LOADER = ContextLoader(BASE)


def unsecured(index: int) -> dict:
    return {k: v for k, v in credentials()[index].items() if k != "proof"}


def with_evidence(document: dict, **fields: str) -> dict:
    changed = copy.deepcopy(document)
    changed["evidence"] = [{**changed["evidence"][0], **fields}, {"type": ["Evidence"], "name": "Second"}]
    return changed


def varied(document: dict) -> list[dict]:
    """The same shape with other values, awkward ones included."""
    out = []
    for n, text in enumerate(["B", 'quote " and backslash \\', "line\nbreak\u2028separator", "ünïcödé 学位", ""]):
        changed = copy.deepcopy(document)
        changed["id"] = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        changed["validFrom"] = changed["awardedDate"] = f"2026-0{n + 1}-01T00:00:00Z"
        changed["credentialSubject"]["identifier"][0]["salt"] = text or "s"
        changed["credentialSubject"]["result"] = [{"type": ["Result"], "value": text}]
        changed["credentialStatus"] = {**changed["credentialStatus"], "statusListIndex": str(n * 977)}
        out.append(changed)
    return out


def test_documents_of_one_shape_share_a_prototype_and_match_the_library():
    prototypes = RdfcPrototypes(LOADER)
    documents = varied(unsecured(1))
    for document in documents:
        assert prototypes.canonical_nquads(document) == canonical_nquads(document, LOADER)
        assert prototypes.canonical_nquads(document) == independent_rdfc.canonize(document)
    [prototype] = prototypes._prototypes.values()
    assert prototype.substitutable and len(prototype.varying) >= 20


@pytest.mark.parametrize("evidence", [
    {"id": "https://uni-1.example/evidence/2"},
    {"id": "https://uni-1.example/has space"},  # not an IRI: the library drops or keeps it its own way
    {"id": "_:b0"},  # a blank node, not an IRI
    {"id": "relative/path"},
    {"id": "type:compact"},  # "type" is a term: could be a compact IRI
    {"narrative": "Narrative with <angle> brackets"},
])
def test_awkward_values_give_the_library_s_bytes(evidence):
    prototypes = RdfcPrototypes(LOADER)
    baseline = with_evidence(unsecured(1), id="https://uni-1.example/evidence/1")
    prototypes.canonical_nquads(baseline)
    document = with_evidence(unsecured(1), **evidence)
    try:
        expected = canonical_nquads(document, LOADER)
    except ValueError:
        with pytest.raises(ValueError):
            prototypes.canonical_nquads(document)
        return
    assert prototypes.canonical_nquads(document) == expected


def test_a_changed_constant_part_is_a_new_prototype():
    prototypes = RdfcPrototypes(LOADER)
    document = unsecured(1)
    renamed = json.loads(json.dumps(document))
    renamed["credentialSubject"]["achievement"]["name"] = "Another achievement"
    for each in (document, renamed, unsecured(0)):
        assert prototypes.canonical_nquads(each) == canonical_nquads(each, LOADER)
    assert len(prototypes._prototypes) == 3


def test_a_document_that_itself_holds_placeholder_text_takes_the_library_path():
    prototypes = RdfcPrototypes(LOADER)
    document = unsecured(1)
    prototypes.canonical_nquads(document)
    sneaky = copy.deepcopy(document)
    sneaky["credentialSubject"]["achievement"]["name"] = "urn:x-credledger-slot:0"
    sneaky["evidence"][0]["narrative"] = "urn:x-credledger-slot:1"
    assert prototypes.canonical_nquads(sneaky) == canonical_nquads(sneaky, LOADER)
