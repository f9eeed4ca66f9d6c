"""Documents: bytes on disk under their SHA-256, metadata and an audit entry in the database."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from sqlalchemy import select

from storage.audit.models import AuditAction
from storage.documents.models import Document
from storage.documents.services import attach_document
from storage.documents.store import DocumentStore
from storage.errors import InvalidRequest, NotFound
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM
CONTENT = b"%PDF-1.7 witness statement\n" * 1000


@pytest.fixture
def store(tmp_path):
    return DocumentStore(tmp_path / "documents")


@pytest.fixture
def case(session, frozen_clock):
    return factories.asb_case(session, factories.agency(session))


def test_put_then_open_gives_back_the_same_bytes(store):
    stored = store.put(io.BytesIO(CONTENT))
    assert stored.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert stored.size_bytes == len(CONTENT)
    with store.open(stored.sha256) as handle:
        assert handle.read() == CONTENT
    assert store.path_for(stored.sha256).parent.name == stored.sha256[:2]


def test_same_bytes_are_stored_once(store):
    first = store.put(io.BytesIO(CONTENT))
    second = store.put(io.BytesIO(CONTENT))
    assert first == second
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files == [store.path_for(first.sha256)]  # no temporary files left behind


def test_streams_larger_than_one_chunk_round_trip(store):
    big = bytes(range(256)) * (5 * 1024 * 1024 // 256 + 7)
    stored = store.put(io.BytesIO(big))
    assert stored.size_bytes == len(big)
    with store.open(stored.sha256) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256


def test_empty_file_is_stored(store):
    stored = store.put(io.BytesIO(b""))
    assert stored.size_bytes == 0
    with store.open(stored.sha256) as handle:
        assert handle.read() == b""


@pytest.mark.parametrize("name", ["../../etc/passwd", "a" * 64 + "/x", "A" * 64, "abc"])
def test_only_hex_digests_name_files(store, name):
    with pytest.raises(ValueError, match="SHA-256"):
        store.path_for(name)


def test_attach_document_stores_bytes_metadata_and_an_audit_entry(session, store, case):
    document = attach_document(
        session, SYSTEM, store, case_id=case.id, filename="C:\\Users\\pc\\Witness statement.pdf",
        content_type="application/pdf", stream=io.BytesIO(CONTENT),
    )
    session.commit()

    saved = session.scalar(select(Document).where(Document.case_id == case.id))
    assert saved is document
    assert document.filename == "Witness statement.pdf"
    assert (document.size_bytes, document.sha256) == (
        len(CONTENT), hashlib.sha256(CONTENT).hexdigest()
    )
    with store.open(document.sha256) as handle:
        assert handle.read() == CONTENT

    [entry] = audit_entries(session, entity_type="documents")
    assert (entry.action, entry.case_id, entry.entity_id) == (
        AuditAction.CREATE, case.id, str(document.id)
    )
    assert json.loads(entry.changes)["after"] == {
        "filename": "Witness statement.pdf", "content_type": "application/pdf",
        "size_bytes": len(CONTENT), "sha256": document.sha256,
    }


def test_the_content_type_is_read_from_the_bytes_not_taken_from_the_sender(
        session, store, case):
    document = attach_document(session, SYSTEM, store, case_id=case.id, filename="notes",
                               content_type="text/html", stream=io.BytesIO(b"x"))
    assert document.content_type == "text/plain; charset=utf-8"


def test_attach_needs_a_file_name(session, store, case):
    with pytest.raises(InvalidRequest) as caught:
        attach_document(session, SYSTEM, store, case_id=case.id, filename="uploads/ ",
                        content_type="text/plain", stream=io.BytesIO(b"x"))
    assert set(caught.value.field_errors) == {"file"}
    assert not store.root.exists()  # refused before anything was written


@pytest.mark.parametrize(("sent", "kept"), [
    ("minutes\x00.txt", "minutes.txt"),        # PostgreSQL cannot store a NUL
    ("report\u202etxt.exe", None),             # a right-to-left override hides ".exe"
])
def test_control_and_formatting_characters_never_reach_the_name(session, store, case, sent,
                                                                 kept):
    if kept is None:
        with pytest.raises(InvalidRequest):  # what is left, reporttxt.exe, is not text
            attach_document(session, SYSTEM, store, case_id=case.id, filename=sent,
                            content_type="text/plain", stream=io.BytesIO(b"x"))
        return
    document = attach_document(session, SYSTEM, store, case_id=case.id, filename=sent,
                               content_type="text/plain", stream=io.BytesIO(b"x"))
    assert document.filename == kept


def test_a_name_of_nothing_but_control_characters_is_refused(session, store, case):
    with pytest.raises(InvalidRequest) as caught:
        attach_document(session, SYSTEM, store, case_id=case.id, filename="\x00\x01",
                        content_type="text/plain", stream=io.BytesIO(b"x"))
    assert "letters or numbers" in caught.value.field_errors["file"]


def test_attach_to_an_unknown_case_is_not_found(session, store, case):
    with pytest.raises(NotFound):
        attach_document(session, SYSTEM, store, case_id=case.id + 99, filename="a.txt",
                        content_type="text/plain", stream=io.BytesIO(b"x"))
