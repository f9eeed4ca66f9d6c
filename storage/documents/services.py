from __future__ import annotations

from typing import BinaryIO

from sqlalchemy.orm import Session

from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case
from storage.documents.models import Document
from storage.documents.store import DocumentStore
from storage.errors import InvalidRequest, NotFound


def attach_document(
    session: Session,
    actor: Actor,
    store: DocumentStore,
    *,
    case_id: int,
    filename: str,
    content_type: str,
    stream: BinaryIO,
    outbox_key: str | None = None,
) -> Document:
    if session.get(Case, case_id) is None:
        raise NotFound("Case", case_id)
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name:
        raise InvalidRequest({"file": "Choose a file to upload"})
    stored = store.put(stream)
    document = Document(
        case_id=case_id,
        filename=name[:255],
        content_type=content_type or "application/octet-stream",
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        uploaded_by_id=actor.user_id,
        outbox_key=outbox_key,
    )
    session.add(document)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=document, case_id=case_id,
           after={"filename": document.filename, "content_type": document.content_type,
                  "size_bytes": stored.size_bytes, "sha256": stored.sha256})
    return document
