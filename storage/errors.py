"""Errors the services raise for callers to turn into a page, a 4xx or a CLI message."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Something the user can act on; the message is written for them."""


class NotFound(ServiceError):
    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key} does not exist")
        self.what = what
        self.key = key


class InvalidRequest(ServiceError):
    """Input that cannot be accepted, with a message per field for forms and API answers."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        self.field_errors = field_errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in field_errors.items()))


class AccessDenied(ServiceError):
    """The actor may not do this to this record (storage.access says who may)."""


class InvalidState(ServiceError):
    """The request is well formed but the record is not in a state that allows it."""


class ConcurrencyConflict(ServiceError):
    """Someone else changed the record first. Carries what this user submitted so the
    caller can show it back to them: nothing they typed is lost."""

    def __init__(
        self,
        label: str,
        *,
        expected_version: int | None,
        current_version: int | None,
        submitted: dict[str, Any] | None = None,
    ) -> None:
        self.label = label
        self.expected_version = expected_version
        self.current_version = current_version
        self.submitted = submitted or {}
        if expected_version is not None and current_version is not None:
            detail = f" (you had version {expected_version}, it is now {current_version})"
        else:
            detail = ""
        super().__init__(
            f"{label} was changed by someone else while you were working on it{detail}. "
            "Reload it to see their changes; what you entered has been kept."
        )
