"""Why the registry refuses a request, in words a person understands.

Domain code raises these; the HTTP layer (http_support.py) turns each into
an RFC 9457 problem. Every one is raised before anything is written.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base: `detail` is shown to the client as it is."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAllowed(RegistryError):
    """The caller may not do this to this resource (another tenant's, outside its scope)."""


class NotFound(RegistryError):
    """The resource named in the request does not exist."""


class Invalid(RegistryError):
    """The request is well-formed but its content breaks a rule (dates, levels, ids)."""


class StateConflict(RegistryError):
    """The resource is not in a state that allows this (already approved, already
    revoked), or it changed while the request was being decided."""


class NotConfigured(RegistryError):
    """This registry instance lacks what the request needs (e.g. the master key)."""
