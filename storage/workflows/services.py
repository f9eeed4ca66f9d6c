"""Publishing case-type versions and finding the one a case runs on."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from casebridge import clock
from casebridge.yamlsource import DocumentError
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidState, NotFound
from storage.workflows.models import DefinitionStatus, WorkflowDefinition
from workflows.loader import DEFINITIONS_DIR, load_definition_text
from workflows.model import Definition


def publish(
    session: Session, actor: Actor, *, source_text: str, source_name: str
) -> tuple[WorkflowDefinition, bool]:
    """Publish a definition version. Publishing the same text again is a no-op; publishing
    different content under a version number already used is refused. Returns (row, new)."""
    definition = load_definition_text(source_text, source_name)  # raises DocumentError
    existing = session.scalar(
        select(WorkflowDefinition).where(
            WorkflowDefinition.case_type == definition.key,
            WorkflowDefinition.version == definition.version,
        )
    )
    if existing is not None:
        if existing.content_hash == definition.content_hash:
            return existing, False
        raise InvalidState(
            f"{definition.key} version {definition.version} is already published with "
            "different content: give the changed definition a new version number"
        )
    row = WorkflowDefinition(
        case_type=definition.key,
        version=definition.version,
        name=definition.name,
        reference_prefix=definition.reference_prefix,
        content_hash=definition.content_hash,
        source_text=source_text,
        source_name=source_name,
        status=DefinitionStatus.PUBLISHED,
        published_at=clock.now(),
        published_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=row,
           after={"case_type": row.case_type, "version": row.version,
                  "content_hash": row.content_hash, "source": source_name})
    return row, True


def publish_shipped(
    session: Session, actor: Actor, directory: Path = DEFINITIONS_DIR
) -> list[tuple[WorkflowDefinition, bool]]:
    """Publish every definition file that ships with Casebridge (idempotent)."""
    results = []
    for path in sorted(directory.rglob("*.yaml")):
        relative = str(path.relative_to(directory))
        results.append(publish(session, actor, source_text=path.read_text("utf-8"),
                               source_name=relative))
    return results


def current_version(session: Session, case_type: str) -> WorkflowDefinition:
    row = session.scalar(
        select(WorkflowDefinition)
        .where(WorkflowDefinition.case_type == case_type,
               WorkflowDefinition.status == DefinitionStatus.PUBLISHED)
        .order_by(WorkflowDefinition.version.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound("Published case type", case_type)
    return row


def version_row(session: Session, case_type: str, version: int) -> WorkflowDefinition:
    """The row of one version; its source text is left unread until asked for (definition_of
    needs it only the first time this process meets that version)."""
    row = session.scalar(
        select(WorkflowDefinition).where(
            WorkflowDefinition.case_type == case_type, WorkflowDefinition.version == version
        ).options(defer(WorkflowDefinition.source_text))
    )
    if row is None:
        raise NotFound("Case type version", f"{case_type} v{version}")
    return row


# Parsed definitions by (case type, version, content hash). A published version never changes
# and the hash is of its text (checked when parsed), so this can never be stale; it saves
# reading and hashing the source text on every request. Bounded like _parse's cache.
_PARSED: dict[tuple[str, int, str], Definition] = {}
_PARSED_LIMIT = 64


def definition_of(row: WorkflowDefinition) -> Definition:
    key = (row.case_type, row.version, row.content_hash)
    definition = _PARSED.get(key)
    if definition is None:
        definition = _parse(row.source_text, row.source_name, row.content_hash)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[key] = definition
    return definition


@lru_cache(maxsize=64)
def _parse(source_text: str, source_name: str, content_hash: str) -> Definition:
    """Parsing is cached by content: thousands of cases share a handful of versions."""
    try:
        definition = load_definition_text(source_text, source_name)
    except DocumentError as exc:
        raise InvalidState(f"the stored definition {source_name} no longer loads: {exc}") from None
    if definition.content_hash != content_hash:
        raise InvalidState(f"the stored definition {source_name} does not match its hash")
    return definition
