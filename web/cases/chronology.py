"""A case's chronology: its audit entries that changed something, written in plain words.

Views, searches and exports stay in the audit log for auditors; the chronology is what
happened to the case and who did it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.access import can_see_case
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import Action, Case, CaseParticipant, StageInstance
from storage.documents.models import Document
from workflows.model import Definition

PAGE_SIZE = 50
CHANGES = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE)

ACTION_STATUS_WORDS = {
    "accepted": "accepted", "declined": "declined", "done": "done", "overdue": "became overdue",
    "open": "opened again",
}
LINK_WORDS = {
    "related": "Linked as related to", "same_incident": "Linked as the same incident as",
    "duplicate_of": "Marked as a duplicate of", "escalated_to": "Escalated to",
}


@dataclass(frozen=True)
class Event:
    at: datetime
    title: str
    by: str
    detail: str | None = None


@dataclass(frozen=True)
class Page:
    events: list[Event]
    number: int
    pages: int
    total: int


def chronology(session: Session, viewer: User, case: Case, definition: Definition,
               page: int) -> Page:
    where = (AuditEntry.case_id == case.id, AuditEntry.action.in_(CHANGES))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    entries = list(session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.seq.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ))
    words = _Words(session, viewer, case, definition, entries)
    return Page([words.event(e) for e in entries], page, pages, total)


class _Words:
    """Turns entries into sentences, loading everything they name in a few queries."""

    def __init__(self, session: Session, viewer: User, case: Case, definition: Definition,
                 entries: list[AuditEntry]) -> None:
        self.session, self.viewer, self.case, self.definition = session, viewer, case, definition
        changes = {e.id: _changes(e) for e in entries}
        self.changes = changes

        def ids(entity_type: str) -> set[int]:
            return {int(e.entity_id) for e in entries
                    if e.entity_type == entity_type and (e.entity_id or "").isdigit()}

        agency_ids = {e.actor_agency_id for e in entries if e.actor_agency_id}
        user_ids = {e.actor_user_id for e in entries if e.actor_user_id}
        case_ids: set[int] = set()
        action_ids = ids("actions")
        stage_ids = ids("stage_instances")
        for entry in entries:
            after = changes[entry.id].get("after") or {}
            if (entry.entity_type in ("action_updates", "escalations")
                    and isinstance(after.get("action_id"), int)):
                action_ids.add(after["action_id"])
            if entry.entity_type in ("escalations", "standard_escalations"):
                if isinstance(after.get("stage_instance_id"), int):
                    stage_ids.add(after["stage_instance_id"])
                user_ids.update(u for key in ("recipient_user_ids", "digest_user_ids")
                                for u in after.get(key) or () if isinstance(u, int))
            for key in ("agency_id", "assigned_agency_id", "notify_agency_id"):
                if isinstance(after.get(key), int):
                    agency_ids.add(after[key])
            if isinstance(after.get("assigned_user_id"), int):
                user_ids.add(after["assigned_user_id"])
            if isinstance(after.get("to_case_id"), int):
                case_ids.add(after["to_case_id"])
        self.stages = _by_id(session, StageInstance, stage_ids)
        self.actions = _by_id(session, Action, action_ids)
        self.documents = _by_id(session, Document, ids("documents"))
        self.participants = _by_id(session, CaseParticipant, ids("case_participants"))
        self.agencies = _by_id(session, Agency, agency_ids)
        self.users = _by_id(session, User, user_ids)
        self.cases = _by_id(session, Case, case_ids)

    # --- who ---------------------------------------------------------------------------

    def actor(self, entry: AuditEntry) -> str:
        user = self.users.get(entry.actor_user_id) if entry.actor_user_id else None
        agency = self.agencies.get(entry.actor_agency_id) if entry.actor_agency_id else None
        if user is not None:
            return f"{user.display_name} ({agency.name if agency else user.agency.name})"
        if entry.actor_label.startswith("system:"):
            return "Casebridge (automatically)"
        return entry.actor_label

    def agency_name(self, agency_id: Any) -> str:
        agency = self.agencies.get(agency_id) if isinstance(agency_id, int) else None
        return agency.name if agency else "another agency"

    def stage_name(self, key: str | None) -> str:
        if key and key in self.definition.stages:
            return self.definition.stages[key].name
        return (key or "a stage").replace("_", " ")

    # --- what --------------------------------------------------------------------------

    def event(self, entry: AuditEntry) -> Event:
        changes = self.changes[entry.id]
        describe = getattr(self, f"_{entry.entity_type}", None)
        title, detail = (describe(entry, changes) if describe else (None, None)) or (None, None)
        if title is None:
            title, detail = self._generic(entry), None
        return Event(at=entry.occurred_at, title=title, by=self.actor(entry), detail=detail)

    def _generic(self, entry: AuditEntry) -> str:
        thing = entry.entity_type.replace("_", " ").rstrip("s")
        verb = {AuditAction.CREATE: "added", AuditAction.UPDATE: "changed",
                AuditAction.DELETE: "removed"}.get(AuditAction(entry.action), "changed")
        return f"{thing[0].upper()}{thing[1:]} {verb}"

    def _cases(self, entry: AuditEntry, changes: dict[str, Any]) -> tuple[str | None, str | None]:
        before, after = changes.get("before") or {}, changes.get("after") or {}
        detail = changes.get("detail") or {}
        if entry.action == AuditAction.CREATE:
            return f"Case opened as {self.definition.name}", after.get("title")
        if "reopened" in detail:
            return "Case reopened", detail["reopened"]
        if "paused" in detail:
            return "Case paused", detail["paused"]
        if "override" in detail:
            targets = ", ".join(
                "closed" if key == "closed" else f"'{self.stage_name(key)}'"
                for key in detail.get("to") or ()
            )
            return f"Case moved by hand to {targets}", detail["override"]
        sentences = []
        status = after.get("status")
        if status == "closed":
            return "Case closed", after.get("closure_reason")
        if status == "open" and before.get("status") == "paused":
            sentences.append("Case resumed")
        elif status == "open" and before.get("status") == "closed":
            sentences.append("Case reopened")
        if "risk_level" in after:
            old, new = before.get("risk_level"), after.get("risk_level")
            if old:
                sentences.append(f"Risk changed from {old} to {new or 'not set'}")
            else:
                sentences.append(f"Risk set to {new}")
        if "lead_officer_id" in after:
            sentences.append("Lead officer changed")
        if "title" in after:
            sentences.append(f"Title changed to '{after['title']}'")
        if "owning_agency_id" in after:
            sentences.append("Owning agency changed")
        if not sentences:
            return "Case details changed", None
        return "; ".join(sentences), None

    def _stage_instances(self, entry: AuditEntry,
                         changes: dict[str, Any]) -> tuple[str | None, str | None]:
        stage = self.stages.get(_id(entry))
        after = changes.get("after") or {}
        key = stage.stage_key if stage else after.get("stage_key")
        sequence = stage.sequence if stage else after.get("sequence", 1)
        name = f"'{self.stage_name(key)}'"
        if isinstance(sequence, int) and sequence > 1:
            name += f" (time {sequence})"
        if entry.action == AuditAction.CREATE:
            return f"Stage {name} started", None
        status = after.get("status")
        if status == "completed":
            return f"Stage {name} completed", None
        if status == "cancelled":
            return f"Stage {name} stopped", (changes.get("detail") or {}).get("reason")
        if "due_at" in after:
            return f"Deadline for stage {name} moved", None
        return f"Stage {name} changed", None

    def _actions(self, entry: AuditEntry, changes: dict[str, Any]) -> tuple[str | None, str | None]:
        action = self.actions.get(_id(entry))
        after = changes.get("after") or {}
        title = after.get("title") or (action.title if action else "an action")
        if entry.action == AuditAction.CREATE:
            to = self.agency_name(after.get("assigned_agency_id"))
            person = self.users.get(after.get("assigned_user_id"))
            if person is not None:
                to = f"{person.display_name} at {to}"
            return f"Action '{title}' given to {to}", None
        status = after.get("status")
        if status in ACTION_STATUS_WORDS:
            detail = after.get("decline_reason") if status == "declined" else after.get("outcome")
            return f"Action '{title}' {ACTION_STATUS_WORDS[status]}", detail
        return f"Action '{title}' changed", None

    def _action_updates(
        self, entry: AuditEntry, changes: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        after = changes.get("after") or {}
        action = self.actions.get(after.get("action_id"))
        if entry.action != AuditAction.CREATE or action is None:
            return None, None
        return f"Progress recorded on action '{action.title}'", after.get("body")

    def _escalations(self, entry: AuditEntry,
                     changes: dict[str, Any]) -> tuple[str | None, str | None]:
        after = changes.get("after") or {}
        stage = self.stages.get(after.get("stage_instance_id"))
        action = self.actions.get(after.get("action_id"))
        if stage is not None:
            what = f"stage '{self.stage_name(stage.stage_key)}'"
        elif action is not None:
            what = f"action '{action.title}'"
        else:
            what = "a deadline"
        told = [self.users[u].display_name for u in after.get("recipient_user_ids") or ()
                if u in self.users]
        if isinstance(after.get("notify_agency_id"), int):
            told.append(self.agency_name(after["notify_agency_id"]))
        detail = f"E-mailed {', '.join(told)}" if told else None
        if after.get("level") == "breach":
            return f"Deadline missed for {what}: escalated", detail
        return f"Deadline warning for {what}", detail

    def _standard_escalations(self, entry: AuditEntry,
                              changes: dict[str, Any]) -> tuple[str | None, str | None]:
        after = changes.get("after") or {}
        name = after.get("name") or str(after.get("standard") or "a standard").replace("_", " ")
        level = after.get("level")
        told = [self.users[u].display_name for u in after.get("recipient_user_ids") or ()
                if u in self.users]
        if isinstance(after.get("notify_agency_id"), int):
            told.append(self.agency_name(after["notify_agency_id"]))
        digest = [self.users[u].display_name for u in after.get("digest_user_ids") or ()
                  if u in self.users]
        parts = ([f"E-mailed {', '.join(told)}"] if told else []) + (
            [f"In the daily digest of {', '.join(digest)}"] if digest else [])
        detail = "; ".join(parts) or None
        if level == 0:
            return f"Minimum standard due soon: {name}", detail
        if level == 1:
            return f"Minimum standard missed: {name}", detail
        return f"Minimum standard missed: {name} (escalation level {level})", detail

    def _case_shares(self, entry: AuditEntry,
                     changes: dict[str, Any]) -> tuple[str | None, str | None]:
        after = changes.get("after") or {}
        if entry.action == AuditAction.CREATE:
            return f"Case shared with {self.agency_name(after.get('agency_id'))}", None
        return None, None

    def _notes(self, entry: AuditEntry, changes: dict[str, Any]) -> tuple[str | None, str | None]:
        # The note's words are on the notes list, where restricted notes stay restricted.
        return ("Note added", None) if entry.action == AuditAction.CREATE else (None, None)

    def _documents(self, entry: AuditEntry,
                   changes: dict[str, Any]) -> tuple[str | None, str | None]:
        after = changes.get("after") or {}
        if entry.action == AuditAction.CREATE:
            return f"Document '{after.get('filename', 'a file')}' added", None
        return None, None

    def _case_links(self, entry: AuditEntry,
                    changes: dict[str, Any]) -> tuple[str | None, str | None]:
        after = changes.get("after") or {}
        other = self.cases.get(after.get("to_case_id"))
        if other is not None and can_see_case(self.session, self.viewer, other):
            named = other.reference
        else:
            named = "a case your agency cannot see"
        words = LINK_WORDS.get(str(after.get("kind")), "Linked to")
        return f"{words} {named}", after.get("reason")

    def _case_participants(self, entry: AuditEntry,
                           changes: dict[str, Any]) -> tuple[str | None, str | None]:
        participant = self.participants.get(_id(entry))
        after = changes.get("after") or {}
        role = str(after.get("role") or "participant").replace("_", " ")
        if participant is None:
            return f"Added a {role}", None
        if participant.person is not None:
            return f"{participant.person.full_name} added as {role}", None
        if participant.location is not None:
            return f"{participant.location.one_line()} added as the incident location", None
        if participant.group is not None:
            return f"Group '{participant.group.name}' added as {role}", None
        return f"Added a {role}", None


def _id(entry: AuditEntry) -> int | None:
    return int(entry.entity_id) if (entry.entity_id or "").isdigit() else None


def _changes(entry: AuditEntry) -> dict[str, Any]:
    try:
        value = json.loads(entry.changes or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _by_id(session: Session, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}
