"""What a learner decides about who sees a credential's public page.

The wallet records these; the verification service projects them and its
badge page obeys them (services/verification/sharing.py). A share link's
token is never in an event, only its SHA-256: the ledger is the audit log,
and anyone reading it must not be able to open a share link. The link's
name stays in the wallet (it is the learner's note, not an audit fact).
Each credential's sharing has its own stream, `credential-sharing:{uuid}`.
"""

from __future__ import annotations

from shared.ledger.eventstore.events import Event


class ShareLinkCreated(Event, frozen=True, kw_only=True):
    event_type = "sharing.ShareLinkCreated"
    class_version = 1
    credential_id: str
    share_id: str
    token_hash: str  # SHA-256 (hex) of the link's token
    created_at: str
    expires_at: str | None = None


class ShareLinkRevoked(Event, frozen=True, kw_only=True):
    event_type = "sharing.ShareLinkRevoked"
    class_version = 1
    credential_id: str
    share_id: str
    revoked_at: str


class CredentialVisibilitySet(Event, frozen=True, kw_only=True):
    """`private`: the public page answers only through a valid share link."""

    event_type = "sharing.CredentialVisibilitySet"
    class_version = 1
    credential_id: str
    private: bool
    at: str


EVENTS: tuple[type[Event], ...] = (ShareLinkCreated, ShareLinkRevoked, CredentialVisibilitySet)


def sharing_stream(credential_id: str) -> str:
    return "credential-sharing:" + credential_id.removeprefix("urn:uuid:")
