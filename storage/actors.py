"""Who is acting: a signed-in user, or the system (engine, CLI, importer)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.accounts.models import User


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    agency_id: int | None = None
    ip_address: str | None = None
    request_id: str | None = None

    @classmethod
    def for_user(
        cls, user: User, *, ip_address: str | None = None, request_id: str | None = None
    ) -> Actor:
        return cls(
            label=f"user:{user.id}",
            user_id=user.id,
            agency_id=user.agency_id,
            ip_address=ip_address,
            request_id=request_id,
        )

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(label=f"system:{component}")
