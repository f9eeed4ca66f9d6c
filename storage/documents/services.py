from __future__ import annotations

import unicodedata
from typing import BinaryIO

from sqlalchemy.orm import Session

from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case
from storage.documents import filetypes
from storage.documents.models import Document
from storage.documents.store import DocumentStore, TooLarge
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
    max_bytes: int | None = None,
) -> Document:
    """Keep a file on the case. Its type is read from its bytes (filetypes): one not on the
    allow-list, or whose name says otherwise, is refused before anything is stored, and the
    type kept is the one found, never `content_type` as the sender claimed it."""
    if session.get(Case, case_id) is None:
        raise NotFound("Case", case_id)
    name = _safe_name(filename)
    if not name:
        raise InvalidRequest({"file": "Choose a file to upload" if not filename.strip() else
                              "Give the file a name with letters or numbers in it"})
    try:
        kind = filetypes.check(stream, name)
        stored = store.put(stream, max_bytes=max_bytes)
    except filetypes.Refused as refused:
        raise InvalidRequest({"file": str(refused)}) from None
    except TooLarge:
        assert max_bytes is not None
        raise InvalidRequest({"file": f"The file must be {max_bytes / 1048576:g} MB or "
                                      "smaller"}) from None
    document = Document(
        case_id=case_id,
        filename=name[:255],
        content_type=kind.content_type,
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


def _safe_name(filename: str) -> str:
    """The last part of the name the browser sent, without control or formatting characters
    (a NUL cannot be stored, and a right-to-left override can disguise an extension)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
