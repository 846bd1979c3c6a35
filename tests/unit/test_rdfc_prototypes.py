"""The bulk signer's RDFC-1.0 route (one library conversion per prototype,
values put back) gives exactly the library's bytes for every document, and
falls back to the library for values whose RDF form could depend on them."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.jsonld.contexts import ContextLoader
from shared.jsonld.rdfc import canonical_nquads
from shared.jsonld.rdfc_prototypes import CREDENTIAL_LEAVES, RdfcPrototypes, _texts, _with_placeholders
from tests.support import independent_rdfc
from tests.unit.test_issuance_signing import BASE
from tests.unit.test_jsonld_contexts import credentials
from tests.unit.test_rdfc_direct import HOSTILE, TEXT

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
    for document in documents:  # answered by first-degree hashes, not handed back to the library
        values: list[str] = []
        _with_placeholders(document, CREDENTIAL_LEAVES, values)
        texts = _texts(prototype.kinds, values)
        assert prototype.template is not None and texts is not None
        assert prototype.template.canonical(texts) == canonical_nquads(document, LOADER)


VALID_IRIS = st.one_of(st.sampled_from(["urn:uuid:1", "https://ü.example/é?q=1#f", "did:web:x:y", "urn:x:%22"]),
                       st.text(st.characters(categories=("L", "N")), max_size=8).map(lambda t: f"https://x.example/{t}"))
ODD_IRIS = st.one_of(st.sampled_from(["urn:x-credledger-slot:3", "_:b0", "rel/ative", "type:compact",
                                      "https://x.example/has space", 'https://x.example/"q"']),
                     TEXT.map(lambda text: "urn:x:" + text))


@st.composite
def iri_leaves(draw: st.DrawFn) -> str:
    """Mostly IRIs (the direct route), one in ten what the library must judge:
    placeholder text, blank nodes, relative, compact or broken IRIs."""
    return draw(ODD_IRIS if draw(st.integers(0, 9)) == 0 else VALID_IRIS)


LEAF_TEXT = st.one_of(TEXT, st.sampled_from(HOSTILE))


@st.composite
def hostile_credentials(draw: st.DrawFn) -> dict:
    document = copy.deepcopy(unsecured(draw(st.sampled_from([0, 1]))))
    document["id"] = draw(iri_leaves())
    document["validFrom"] = draw(LEAF_TEXT)
    document["awardedDate"] = draw(LEAF_TEXT)
    subject = document["credentialSubject"]
    subject["identifier"] = [{**subject["identifier"][0], "identityHash": draw(LEAF_TEXT), "salt": draw(LEAF_TEXT)}
                             for _ in range(draw(st.integers(1, 3)))]
    subject["result"] = [{"type": ["Result"], "value": draw(LEAF_TEXT)} for _ in range(draw(st.integers(0, 2)))]
    document["credentialStatus"] = {**document["credentialStatus"], "id": draw(iri_leaves()),
                                    "statusListIndex": draw(LEAF_TEXT), "statusListCredential": draw(iri_leaves())}
    evidence = [{"type": ["Evidence"], "name": draw(LEAF_TEXT), "narrative": draw(LEAF_TEXT),
                 "genre": draw(LEAF_TEXT)} for _ in range(draw(st.integers(0, 2)))]
    for item in evidence:
        if draw(st.booleans()):
            item["id"] = draw(iri_leaves())
    document["evidence"] = evidence
    return document


PROTOTYPES = RdfcPrototypes(LOADER)  # shared across examples: prototypes are reused, as in a service


@settings(max_examples=300, deadline=None)
@given(hostile_credentials())
def test_hostile_values_in_every_leaf_give_the_library_s_bytes(document):
    try:
        expected = canonical_nquads(document, LOADER)
    except ValueError:
        with pytest.raises(ValueError):
            PROTOTYPES.canonical_nquads(document)
        return
    assert PROTOTYPES.canonical_nquads(document) == expected


@pytest.mark.parametrize("evidence", [
    {"id": "https://uni-1.example/evidence/2"},
    {"id": "https://uni-1.example/has space"},  # not an IRI: the library drops or keeps it its own way
    {"id": "_:b0"},  # a blank node, not an IRI
    {"id": "relative/path"},
    {"id": "type:compact"},  # "type" is a term: could be a compact IRI
    {"narrative": "Narrative with <angle> brackets"},
    {"narrative": "a lone surrogate \ud800"},  # no UTF-8, so no N-Quads: both paths refuse it
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
