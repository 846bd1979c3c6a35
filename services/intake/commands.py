"""The commands a university's systems push through Kafka, and their outcomes.

Each command body is the HTTP API's own request Struct (`CredentialRequest`
of `POST /v1/credentials`, `StatusChangeRequest` of revoke/suspend/reinstate,
`StackRequest` of `POST /v1/stacks`), wrapped in an envelope naming the
command, its issuer, its kind and its schema version. The kind is the
msgspec tag, so one decoder reads every kind and refuses unknown ones.
`command_schema()` is what a schema registry would hold (docs/intake.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from services.issuance.schemas import CredentialRequest, StackRequest
from services.revocation.schemas import StatusChangeRequest

SCHEMA_VERSION = 1


class IntakeTopics(msgspec.Struct, frozen=True):
    """One commands topic shared by all issuers, keyed by issuer id (docs/intake.md)."""

    commands: str
    outcomes: str  # keyed by command id
    dead_letters: str

    @classmethod
    def named(cls, prefix: str) -> IntakeTopics:
        return cls(f"{prefix}.commands", f"{prefix}.command-outcomes", f"{prefix}.commands-dead-letter")

    @property
    def all(self) -> tuple[str, str, str]:
        return self.commands, self.outcomes, self.dead_letters

CommandId = Annotated[str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                                description="A lowercase UUID the producer chose; the reply is keyed by it")]
IssuerId = Annotated[str, Meta(min_length=1, max_length=200)]
CredentialId = Annotated[str, Meta(
    pattern=r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


class Envelope(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="kind"):
    command_id: CommandId
    issuer_id: IssuerId
    version: Literal[1] = SCHEMA_VERSION


class IssueCredential(Envelope, tag="issue_credential"):
    credential: CredentialRequest


class Revoke(Envelope, tag="revoke"):
    credential_id: CredentialId
    change: StatusChangeRequest


class Suspend(Envelope, tag="suspend"):
    credential_id: CredentialId
    change: StatusChangeRequest


class Reinstate(Envelope, tag="reinstate"):
    credential_id: CredentialId
    change: StatusChangeRequest


class ClaimStack(Envelope, tag="claim_stack"):
    stack: StackRequest


Command = IssueCredential | Revoke | Suspend | Reinstate | ClaimStack
StatusCommand = Revoke | Suspend | Reinstate


def kind_of(command: Command) -> str:
    return type(command).__struct_config__.tag  # type: ignore[return-value]


class CommandOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The one reply to a command, on the reply topic keyed by its command id."""

    command_id: str
    issuer_id: str
    kind: str
    outcome: Literal["issued", "existing", "applied", "rejected"]
    reference: str | None = None
    credential_id: str | None = None
    position: int | None = None
    learner_hash: str | None = None
    status: str | None = None
    stack_id: str | None = None
    # The RFC 9457 problem details HTTP would answer with.
    problem: dict[str, Any] | None = None


class DeadLetter(msgspec.Struct, kw_only=True):
    """A record the intake could not read at all, and why."""

    reason: str
    partition: int
    offset: int
    key: str | None
    value_base64: str


def command_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the command payload, for a schema registry."""
    return msgspec.json.schema(Command)
