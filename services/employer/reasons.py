"""The verification service's answer in a recruiter's words.

A recruiter wants one line per credential: can I rely on it, and if not,
why not, in words they can repeat to the candidate. The checks' codes are
for machines; these sentences are for people, in the order the checks
run. The identity comparison also has a column of its own: a recruiter
filters on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.verification.schemas import Check, ItemResult

VERDICT_WORDS = {"valid": "Valid", "invalid": "Not valid", "unknown": "Cannot check"}
IDENTITY_WORDS = {
    "match": "Matches the candidate's email",
    "mismatch": "Issued to someone else",
    "unknown": "Cannot compare",
    "not_checked": "No email given",
}
_SIGNER_PROBLEMS = frozenset({"issuer_unknown", "key_unknown", "key_not_of_issuer", "malformed_proof",
                              "unsupported_jws", "malformed_key_id"})
_WORDS = {
    ("exists", "not_found"): "No credential with this id was issued through this platform.",
    ("exists", "not_in_ledger"): "The platform has no record of this credential, so whether it was revoked "
                                 "cannot be known.",
    ("exists", "status_source_unavailable"): "The platform's records could not be read just now; try again shortly.",
    ("integrity", "differs_from_ledger"): "The document was changed after it was issued.",
    ("integrity", "unverified"): "Its content could not be authenticated.",
    ("signature", "bad_signature"): "The signature does not match the content: the credential was altered.",
    ("issuer_accredited", "not_accredited_at_issue"): "The issuer was not accredited for this level and field "
                                                      "when it issued the credential.",
    ("issuer_accredited", "issuer_unknown"): "The issuer is not registered with any agency on this platform.",
    ("issuer_accredited", "issue_time_unknown"): "When it was issued cannot be told, so neither can the "
                                                 "issuer's accreditation at the time.",
    ("key_valid", "key_compromised"): "It was signed with a key its issuer has reported compromised.",
    ("key_valid", "key_outside_validity"): "It was signed with a key that was not valid at the time.",
    ("status", "status_source_unavailable"): "Its current status could not be confirmed right now; "
                                             "try again shortly.",
    ("status", "not_in_ledger"): "Its status (revoked or not) is unknown: the platform never recorded it.",
    ("validity_window", "expired"): "It has expired.",
    ("validity_window", "not_yet_valid"): "It is not valid yet.",
    ("identity_match", "identity_mismatch"): "It was issued to someone else: the candidate's email does not match.",
    ("identity_match", "no_identity_in_credential"): "It names no learner to compare the candidate with.",
    ("stack_components", "component_revoked"): "A credential it is built from has been revoked.",
    ("stack_components", "component_not_active"): "A credential it is built from is suspended or under review.",
    ("stack_components", "component_unknown"): "A credential it is built from is not known to the platform.",
}


@dataclass(frozen=True, slots=True)
class Explained:
    verdict: str
    reasons: str
    identity: str


def sentence(check: Check) -> str:
    if check.check == "signature" and check.reason in _SIGNER_PROBLEMS:
        return "It was not signed with a registered key of its issuer."
    if check.check == "status" and check.detail:
        # "revoked by the issuer on 2026-06-30; reason: misconduct"
        return check.detail[0].upper() + check.detail[1:] + "."
    words = _WORDS.get((check.check, check.reason))
    if words:
        return words
    text = f"{check.check.replace('_', ' ')}: {check.reason.replace('_', ' ')}"
    return f"{text} ({check.detail})." if check.detail else text + "."


def identity_of(checks: list[Check]) -> str:
    found = next((c for c in checks if c.check == "identity_match"), None)
    if found is None:
        return "not_checked"
    return {"pass": "match", "fail": "mismatch"}.get(found.status, "unknown")


def explain(result: ItemResult) -> Explained:
    if result.problem is not None:
        return Explained(result.verdict, f"The line could not be read: {result.problem.detail}", "unknown")
    reasons = [sentence(c) for c in result.checks if c.status != "pass"]
    if not reasons and result.verdict == "valid":
        reasons = ["Issued by an accredited issuer, unchanged, and in good standing."]
    return Explained(result.verdict, " ".join(reasons), identity_of(result.checks))
