"""The employer portal's candidate files, read as they stream in, and its
reasons in words (services/employer/candidates.py, reasons.py)."""

from __future__ import annotations

import pytest

from services.employer.candidates import CandidateReader, credential_of, job_body, job_line
from services.employer.reasons import explain
from services.verification.schemas import Check, ItemProblem, ItemResult
from shared.refusals import Invalid

ID = "urn:uuid:0b7f1a2e-8a3c-4c36-9d2e-5f0c2a1b3c4d"


def test_a_badge_link_becomes_the_id_it_shows_and_anything_else_passes_through():
    assert credential_of(f"https://ledger.example/verify/{ID}") == ID
    assert credential_of("https://ledger.example/verify/urn%3Auuid%3Aabc/") == "urn:uuid:abc"
    assert credential_of(f"http://h/v1/credentials/{ID}/verification") == ID
    assert credential_of(f"  {ID} ") == ID
    assert credential_of("eyJ.a.b") == "eyJ.a.b"


def test_rows_split_across_chunks_keep_their_order_and_a_header_names_columns_in_any_order():
    reader = CandidateReader()
    data = f"Email,Name,Badge link\r\nada@example.org,Ada Lovelace,https://x/verify/{ID}\r\n"
    data += 'grace@example.org,"Hopper, Grace",id-2\n\n=cmd,"x",id-3'
    found = []
    for start in range(0, len(data), 7):
        found += reader.feed(data[start:start + 7].encode())
    found += reader.close()
    assert [(c.row_no, c.name, c.email) for c in found] == [
        (0, "Ada Lovelace", "ada@example.org"), (1, "Hopper, Grace", "grace@example.org"), (2, "x", "=cmd")]
    assert job_line(found[0]) == f"{ID},ada@example.org\n".encode()
    assert job_line(found[1]) == b"id-2,grace@example.org\n"


def test_without_a_header_the_columns_are_name_email_credential():
    reader = CandidateReader()
    rows = reader.feed(b"Ada,ada@example.org,id-1\n") + reader.close()
    assert rows[0].credential == "id-1" and rows[0].name == "Ada"


def test_a_file_that_is_not_utf8_is_refused_with_its_line():
    reader = CandidateReader()
    with pytest.raises(Invalid, match="line 2 is not UTF-8"):
        reader.feed(b"name,email,credential\n\xff\xfe,a,b\n")


async def test_the_job_body_stores_each_piece_before_sending_it():
    kept: list[int] = []

    async def chunks():
        yield b"name,email,credential\nAda,ada@example.org,id-1\nGra"
        yield b"ce,grace@example.org,id-2"

    async def keep(candidates):
        kept.extend(c.row_no for c in candidates)

    sent = [piece async for piece in job_body(chunks(), keep, CandidateReader())]
    assert b"".join(sent) == b"credential,email\nid-1,ada@example.org\nid-2,grace@example.org\n"
    assert kept == [0, 1]


def test_reasons_are_sentences_and_identity_is_apart():
    revoked = ItemResult(index=0, id=ID, verdict="invalid", checks=[
        Check("exists", "pass", "in_ledger"),
        Check("status", "fail", "revoked", "revoked by the issuer on 2026-06-30; reason: misconduct"),
        Check("identity_match", "fail", "identity_mismatch")])
    explained = explain(revoked)
    assert explained.reasons == ("Revoked by the issuer on 2026-06-30; reason: misconduct. It was issued to "
                                 "someone else: the candidate's email does not match.")
    assert explained.identity == "mismatch"
    tampered = ItemResult(index=1, verdict="invalid", checks=[Check("signature", "fail", "bad_signature")])
    assert "altered" in explain(tampered).reasons and explain(tampered).identity == "not_checked"
    unreadable = ItemResult(index=2, verdict="unknown", problem=ItemProblem("t", "Bad", 400, "not a URI"))
    assert explain(unreadable).reasons == "The line could not be read: not a URI"
    valid = ItemResult(index=3, verdict="valid", checks=[Check("identity_match", "pass", "identity_matches")])
    assert explain(valid).identity == "match" and "good standing" in explain(valid).reasons
