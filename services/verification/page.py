"""The page a badge link opens: plain HTML, readable on a phone, no JavaScript.

Every value comes from issuers and agencies, so every value is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from services.verification.model import CredentialRecord, ReadModel

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:40rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:.75rem;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:.25rem 0 .5rem}
.verdict{display:inline-block;padding:.3rem .7rem;border-radius:1rem;font-weight:600}
.valid{background:#dff5e3;color:#17622b}.invalid{background:#fde2e1;color:#8f1c17}
.unknown{background:#fff4d6;color:#7a5500}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}dt{color:#5b6475}dd{margin:0}
ul{padding-left:1.2rem}small{color:#5b6475}
"""
HEADLINES = {
    "valid": "Valid: issued by an accredited issuer and currently in good standing",
    "invalid": "Not valid",
    "unknown": "Could not be confirmed right now",
}


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>" if items else "<p>-</p>"


def render_page(model: ReadModel, credential_id: str, record: CredentialRecord, result: dict[str, Any]) -> str:
    verdict = result["verdict"]
    summary = result.get("summary") or {}
    achievement = model.registry.achievements.get(record.achievement_id)
    spec = achievement.spec if achievement else None
    failing = [c for c in result["checks"] if c["status"] != "pass"]
    facts = [
        ("Issued by", summary.get("issuer", "")),
        ("Issued on", summary.get("issued_on", "")),
        ("Level", f"EQF {spec.eqf_level}" if spec else ""),
        ("Credits", f"{spec.workload.ects:g} ECTS" if spec and spec.workload.ects else ""),
        ("Workload", f"{spec.workload.hours:g} hours" if spec and spec.workload.hours else ""),
        ("Assessment", spec.assessment_type if spec else ""),
        ("Status", _status_text(result)),
    ]
    body = (
        f"<div class=\"card\"><span class=\"verdict {escape(verdict)}\">{escape(HEADLINES[verdict])}</span>"
        f"<h1>{escape(summary.get('title', ''))}</h1>"
        + (f"<p>{escape(spec.description)}</p>" if spec else "")
        + "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts if v) + "</dl>"
        + "<h2>Learning outcomes</h2>" + _list(spec.learning_outcomes if spec else [])
        + "<h2>Skills</h2>" + _list([s.name for s in spec.skills] if spec else [])
        + ("<h2>Why</h2>" + _list([explain(c["check"], c["reason"], c.get("detail", "")) for c in failing])
           if failing else "")
        + f"<p><small>Credential {escape(credential_id)}</small></p></div>"
    )
    return _page(summary.get("title", "Credential"), body)


def _status_text(result: dict[str, Any]) -> str:
    status = next((c for c in result["checks"] if c["check"] == "status"), None)
    if status is None:
        return ""
    # The detail already says the status, by whom, when and why (a category).
    return status.get("detail") or status["reason"].replace("_", " ")


def explain(check: str, reason: str, detail: str) -> str:
    """One check that did not pass, in words (the page's "Why" and the results CSV)."""
    text = f"{check.replace('_', ' ')}: {reason.replace('_', ' ')}"
    return f"{text} ({detail})" if detail else text


def render_not_found(credential_id: str) -> str:
    return _page("Credential not found", (
        "<div class=\"card\"><span class=\"verdict invalid\">Not found</span>"
        "<h1>No such credential</h1>"
        f"<p>No credential with the id <code>{escape(credential_id)}</code> was issued through this ledger. "
        "Check the link, or ask the holder for the credential file.</p></div>"))
