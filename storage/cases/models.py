"""The shared case record: a case, who works it, its stages, actions, notes and links."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.base import Base, BigIntKey, created_at, enum_column, intpk, updated_at

# Action.agenda_item_id points at meeting_agenda_items: the table must be known wherever
# actions are (the CLI and the demo import no more than they use).
from storage.meetings import models as _meetings  # noqa: F401
from storage.people.models import Group, Location, Person


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # the clock is stopped, e.g. waiting for the victim
    CLOSED = "closed"


class RiskLevel(enum.StrEnum):
    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class ParticipantRole(enum.StrEnum):
    VICTIM = "victim"
    COMPLAINANT = "complainant"
    APPLICANT = "applicant"
    PERPETRATOR = "perpetrator"
    ALLEGED_PERPETRATOR = "alleged_perpetrator"
    WITNESS = "witness"
    INCIDENT_LOCATION = "incident_location"
    SUBJECT_GROUP = "subject_group"
    OTHER = "other"


class StageStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"
    OVERDUE = "overdue"


class LinkKind(enum.StrEnum):
    RELATED = "related"
    SAME_INCIDENT = "same_incident"
    DUPLICATE_OF = "duplicate_of"
    ESCALATED_TO = "escalated_to"  # e.g. an ASB case that became a Case Review


OUTSTANDING_SQL = "status IN ('open', 'accepted', 'overdue')"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name="closed_at_iff_closed"
        ),
        CheckConstraint(
            "closed_at IS NULL OR closed_at >= opened_at", name="closed_after_opened"
        ),
        CheckConstraint(
            "status <> 'closed' OR closure_reason IS NOT NULL", name="closure_has_reason"
        ),
        CheckConstraint("definition_version >= 1", name="definition_version_positive"),
        CheckConstraint("length(definition_hash) = 64", name="definition_hash_sha256"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_cases_status_type", "status", "case_type"),
        # The detectors' sweep reads every report opened in a window (rules/detectors).
        Index("ix_cases_opened_at", "opened_at"),
    )

    id: Mapped[intpk]
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    case_type: Mapped[str] = mapped_column(String(40))
    definition_version: Mapped[int] = mapped_column(Integer)
    definition_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[CaseStatus] = enum_column(CaseStatus, default=CaseStatus.OPEN)
    risk_level: Mapped[RiskLevel | None] = enum_column(RiskLevel, nullable=True)
    owning_agency_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("agencies.id"), index=True
    )
    lead_officer_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("users.id"), index=True
    )
    restricted: Mapped[bool] = mapped_column(default=False)
    # Workflow variables the interpreter keeps between events (scores, counters, flags).
    workflow_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closure_reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    # Optimistic lock: every UPDATE is made "WHERE version = <what we read>", so a stale
    # writer gets a conflict. Services bump it themselves (see cases.services.touch), so a
    # change to a stage alone still moves the case's version.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    owning_agency: Mapped[Agency] = relationship(foreign_keys=[owning_agency_id])
    lead_officer: Mapped[User | None] = relationship(foreign_keys=[lead_officer_id])
    shares: Mapped[list[CaseShare]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )
    participants: Mapped[list[CaseParticipant]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseParticipant.id"
    )
    stages: Mapped[list[StageInstance]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="StageInstance.id"
    )
    actions: Mapped[list[Action]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Action.id"
    )

    @property
    def active_stages(self) -> list[StageInstance]:
        return [s for s in self.stages if s.status is StageStatus.ACTIVE]


class CaseShare(Base):
    """An agency other than the owner that works the case and may see it."""

    __tablename__ = "case_shares"
    __table_args__ = (UniqueConstraint("case_id", "agency_id"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"), index=True)
    shared_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    shared_at: Mapped[created_at]

    case: Mapped[Case] = relationship(back_populates="shares")
    agency: Mapped[Agency] = relationship()


class CaseParticipant(Base):
    """A person, location or group with a role on one case."""

    __tablename__ = "case_participants"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN person_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_subject",
        ),
        CheckConstraint(
            "(role = 'incident_location') = (location_id IS NOT NULL)",
            name="locations_are_incident_locations",
        ),
        CheckConstraint(
            "group_id IS NULL OR role IN ('subject_group', 'perpetrator', 'alleged_perpetrator')",
            name="group_roles",
        ),
        Index("ix_case_participants_person_role", "person_id", "role"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[ParticipantRole] = enum_column(ParticipantRole)
    person_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("people.id"))
    location_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("locations.id"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("groups.id"))
    added_at: Mapped[created_at]

    case: Mapped[Case] = relationship(back_populates="participants")
    person: Mapped[Person | None] = relationship()
    location: Mapped[Location | None] = relationship()
    group: Mapped[Group | None] = relationship()


class StageInstance(Base):
    """One visit of a case to one stage of its workflow (recurring stages visit again)."""

    __tablename__ = "stage_instances"
    __table_args__ = (
        UniqueConstraint("case_id", "stage_key", "sequence"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL)",
            name="completed_at_iff_completed",
        ),
        CheckConstraint("due_at IS NULL OR due_at >= opened_at", name="due_after_opened"),
        CheckConstraint(
            "warn_at IS NULL OR (due_at IS NOT NULL AND warn_at <= due_at)",
            name="warning_before_due",
        ),
        CheckConstraint(
            "completed_at IS NULL OR completed_at >= opened_at", name="completed_after_opened"
        ),
        CheckConstraint(
            "status <> 'completed' OR form_data IS NOT NULL", name="completed_has_submission"
        ),
        # The deadline sweep reads only active stages by due date, or by warning point.
        Index("ix_stage_instances_active_due", "status", "due_at"),
        Index("ix_stage_instances_active_warn", "warn_at",
              postgresql_where=text("status = 'active'"),
              sqlite_where=text("status = 'active'")),
        # Task inboxes: my active stages, and my agency's unclaimed queue, by due date.
        Index("ix_stage_instances_user_queue", "assignee_user_id", "due_at",
              postgresql_where=text("status = 'active'"),
              sqlite_where=text("status = 'active'")),
        Index("ix_stage_instances_agency_queue", "assignee_agency_id", "due_at",
              postgresql_where=text("status = 'active' AND assignee_user_id IS NULL"),
              sqlite_where=text("status = 'active' AND assignee_user_id IS NULL")),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    stage_key: Mapped[str] = mapped_column(String(60))
    sequence: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[StageStatus] = enum_column(StageStatus, default=StageStatus.ACTIVE)
    form_key: Mapped[str | None] = mapped_column(String(60))
    assignee_user_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("users.id"), index=True
    )
    assignee_agency_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("agencies.id"), index=True
    )
    # A queue within the agency, e.g. its managers, when no one person is named.
    assignee_role: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    warn_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    form_data: Mapped[dict[str, Any] | None]

    case: Mapped[Case] = relationship(back_populates="stages")
    assignee_user: Mapped[User | None] = relationship(foreign_keys=[assignee_user_id])
    assignee_agency: Mapped[Agency | None] = relationship(foreign_keys=[assignee_agency_id])


class Action(Base):
    """A task one agency (or one of its people) owes the case, with a due date."""

    __tablename__ = "actions"
    __table_args__ = (
        CheckConstraint("length(trim(title)) > 0", name="title_not_blank"),
        CheckConstraint(
            "(status = 'done') = (completed_at IS NOT NULL)", name="completed_at_iff_done"
        ),
        CheckConstraint(
            "status <> 'declined' OR decline_reason IS NOT NULL", name="decline_has_reason"
        ),
        CheckConstraint("due_at >= created_at", name="due_after_created"),
        Index("ix_actions_status_due", "status", "due_at"),
        Index("ix_actions_user_queue", "assigned_user_id", "due_at",
              postgresql_where=text(OUTSTANDING_SQL), sqlite_where=text(OUTSTANDING_SQL)),
        Index("ix_actions_agency_queue", "assigned_agency_id", "due_at",
              postgresql_where=text(f"{OUTSTANDING_SQL} AND assigned_user_id IS NULL"),
              sqlite_where=text(f"{OUTSTANDING_SQL} AND assigned_user_id IS NULL")),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    stage_instance_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("stage_instances.id")
    )
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    assigned_agency_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("agencies.id"), index=True
    )
    assigned_user_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("users.id"), index=True
    )
    status: Mapped[ActionStatus] = enum_column(ActionStatus, default=ActionStatus.OPEN)
    due_at: Mapped[datetime]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    # Raised at a panel meeting about this case, when it was.
    agenda_item_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("meeting_agenda_items.id")
    )
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    case: Mapped[Case] = relationship(back_populates="actions")
    updates: Mapped[list[ActionUpdate]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionUpdate.id"
    )
    assigned_agency: Mapped[Agency] = relationship(foreign_keys=[assigned_agency_id])
    assigned_user: Mapped[User | None] = relationship(foreign_keys=[assigned_user_id])


class ActionUpdate(Base):
    """Progress an agency records on an action it owes, before it is done."""

    __tablename__ = "action_updates"
    __table_args__ = (CheckConstraint("length(trim(body)) > 0", name="body_not_blank"),)

    id: Mapped[intpk]
    action_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("actions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]

    action: Mapped[Action] = relationship(back_populates="updates")
    author: Mapped[User | None] = relationship()


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (CheckConstraint("length(trim(body)) > 0", name="body_not_blank"),)

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    # Only the author's agency sees a restricted note (e.g. police intelligence).
    restricted_to_agency: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]

    author: Mapped[User | None] = relationship()


class CaseLink(Base):
    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("from_case_id", "to_case_id", "kind"),
        CheckConstraint("from_case_id <> to_case_id", name="not_self"),
    )

    id: Mapped[intpk]
    from_case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    to_case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[LinkKind] = enum_column(LinkKind)
    reason: Mapped[str | None] = mapped_column(Text)
    linked_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    linked_at: Mapped[created_at]


class ReferenceCounter(Base):
    """Hands out ASB-2026-000123 style references, one counter per prefix and year."""

    __tablename__ = "reference_counters"
    __table_args__ = (CheckConstraint("last_value >= 0", name="last_value_not_negative"),)

    prefix: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
