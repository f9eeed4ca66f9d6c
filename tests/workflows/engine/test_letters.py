"""Letters to the victim: queued by the workflow with ids only, rendered to a real PDF and
kept on the case as a document exactly once, whatever crashes or runs twice."""

from __future__ import annotations

import logging
import re
import zlib
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from storage.accounts.models import Role
from storage.cases.models import ParticipantRole
from storage.cases.services import add_participant
from storage.db import unit_of_work
from storage.documents.models import Document
from storage.documents.store import DocumentStore
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue
from storage.people.services import create_location, create_person
from tests import factories
from tests.storage.helpers import advance_asb
from tests.workflows.engine.conftest import POLICY, dispatch_and_crash_before_marking
from workflows.engine.dispatch import dispatch_once
from workflows.engine.letters import letter_pdf, render_letter

SYSTEM = factories.SYSTEM


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages (fpdf2 writes it as `(...) Tj` in deflated streams)."""
    drawn = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        drawn += re.findall(rb"\((.*?)\) Tj", content)
    return " ".join(line.decode("latin-1") for line in drawn)


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page[^s]", pdf))


def case_at_closure(sessions, *, restricted: bool = False, victim: bool = True):
    """An ASB case worked along the straight path to its closure stage, with a victim at
    home: the closure stage's `letter` effect has queued one LETTER row (the rest dropped)."""
    with unit_of_work(sessions) as session:
        owner = factories.agency(session)
        owner.contact_phone = "01234 567890"
        lead = factories.user(session, owner, Role.PRACTITIONER)
        case = factories.asb_case(session, owner, lead_officer_id=lead.id)
        person = None
        if victim:
            home = create_location(session, SYSTEM, address_line_1="14 Example Row",
                                   town="Testbury", postcode="TE1 4ST")
            person = create_person(session, SYSTEM, given_name="Alex", family_name="Testperson",
                                   home_location_id=home.id, restricted=restricted)
            add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                            person_id=person.id)
        advance_asb(session, case, to="closure")
        session.execute(OutboxMessage.__table__.delete().where(
            OutboxMessage.kind != EffectKind.LETTER))
    return case, person, lead


def letter_rows(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == EffectKind.LETTER)))


def letters_of(sessions, case) -> list[Document]:
    with sessions() as session:
        return list(session.scalars(select(Document).where(Document.case_id == case.id)))


def test_reaching_closure_queues_a_letter_to_the_victim_with_ids_only(engine_sessions,
                                                                      frozen_clock):
    case, person, _ = case_at_closure(engine_sessions)
    [row] = letter_rows(engine_sessions)
    assert row.payload == {"case_id": case.id, "person_id": person.id,
                           "template": "closure_letter"}
    assert row.idempotency_key == f"letter:{case.id}:closure:1:closure_letter:{person.id}"
    assert row.case_id == case.id


def test_a_case_with_no_victim_queues_no_letter(engine_sessions, frozen_clock):
    case_at_closure(engine_sessions, victim=False)
    assert letter_rows(engine_sessions) == []


def test_the_letter_is_a_real_pdf_on_the_case_and_nothing_personal_is_logged(
        dispatcher, engine_sessions, engine_settings, smtp_sink, frozen_clock, caplog):
    case, _, lead = case_at_closure(engine_sessions)
    with caplog.at_level(logging.DEBUG):
        assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    [row] = letter_rows(engine_sessions)
    assert row.status is OutboxStatus.DONE
    [document] = letters_of(engine_sessions, case)
    assert document.filename == f"closure-letter-{case.reference}.pdf"
    assert (document.content_type, document.uploaded_by_id) == ("application/pdf", None)
    assert document.outbox_key == row.idempotency_key
    with DocumentStore(engine_settings.documents_dir).open(document.sha256) as stored:
        pdf = stored.read()
    assert pdf.startswith(b"%PDF-")
    assert (len(pdf), pages(pdf)) == (document.size_bytes, 1)
    text = pdf_text(pdf)
    for expected in ("Dear Alex Testperson,", "14 Example Row", "Testbury", "TE1 4ST",
                     f"Our reference: {case.reference}", "2 March 2026",
                     "we are closing your anti-social behaviour case", lead.display_name,
                     "01234 567890"):
        assert expected in text, expected
    for private in ("Testperson", "Example Row", "TE1 4ST"):
        assert private not in caplog.text
        assert private not in str(row.payload)


def test_run_twice_the_letter_is_stored_once(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    case, _, _ = case_at_closure(engine_sessions)
    assert dispatch_once(dispatcher, 10)["done"] == 1
    with unit_of_work(engine_sessions) as session:  # as if the row were queued again
        session.execute(update(OutboxMessage).where(OutboxMessage.kind == EffectKind.LETTER)
                        .values(status=OutboxStatus.PENDING, completed_at=None))
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert len(letters_of(engine_sessions, case)) == 1


def test_a_crash_before_the_commit_leaves_no_document_and_the_retry_stores_one(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, monkeypatch):
    case, _, _ = case_at_closure(engine_sessions)
    dispatch_and_crash_before_marking(dispatcher, monkeypatch)
    assert letters_of(engine_sessions, case) == []  # the document went with the mark
    [stuck] = letter_rows(engine_sessions)
    assert stuck.status is OutboxStatus.CLAIMED
    frozen_clock.advance(POLICY.lease)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert len(letters_of(engine_sessions, case)) == 1


def test_a_restricted_victims_address_is_left_off(
        dispatcher, engine_sessions, engine_settings, smtp_sink, frozen_clock):
    case, _, _ = case_at_closure(engine_sessions, restricted=True)
    dispatch_once(dispatcher, 10)
    [document] = letters_of(engine_sessions, case)
    with DocumentStore(engine_settings.documents_dir).open(document.sha256) as stored:
        text = pdf_text(stored.read())
    assert "Dear Alex Testperson," in text
    assert "Example Row" not in text
    assert "TE1 4ST" not in text


def test_an_unknown_letter_fails_at_once_for_a_person_to_see(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    with unit_of_work(engine_sessions) as session:
        case = factories.asb_case(session, factories.agency(session))
        person = create_person(session, SYSTEM, family_name="Nobody")
        session.execute(OutboxMessage.__table__.delete())
        enqueue(session, kind=EffectKind.LETTER, idempotency_key=f"letter:x:{case.id}",
                payload={"case_id": case.id, "person_id": person.id, "template": "no_such"},
                case_id=case.id)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "failed": 1}
    [failed] = letter_rows(engine_sessions)
    assert failed.last_error == "Undeliverable: no letter template 'no_such'"
    with engine_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Document).where(
            Document.case_id == case.id)) == 0


def test_the_case_review_outcome_letter_tells_the_victim_the_outcome_and_how_to_appeal():
    context = {
        "case_reference": "CR-2026-000007", "case_type_name": "ASB Case Review",
        "recipient_name": "Sam Łukasz-Zoë", "address": ["1 Test Close", "TE2 2ST"],
        "agency_name": "Testshire Council", "agency_contact": ["asb@council.test"],
        "officer_name": None, "today": "2 March 2026",
        "stages": {"review_meeting": {
            "meeting_date": "2026-02-20", "findings": "Reports were not shared.",
            "recommendations_made": "yes", "recommendations": "Joint visits every week.",
            "recommendations_for": ["police", "victim_service"]}},
    }
    title, body = render_letter("case_review_outcome", context)
    assert title == "The outcome of your ASB Case Review, reference CR-2026-000007"
    pdf = letter_pdf(title, body, context, made_at=datetime(2026, 3, 2, tzinfo=UTC))
    text = pdf_text(pdf)
    for expected in ("Dear Sam Lukasz-Zoë,", "The review panel met on 20 February 2026.",
                     "What the review found: Reports were not shared.",
                     "The panel recommended: Joint visits every week.",
                     "police, victim service", "within 20 working days", "The case team"):
        assert expected in text, expected
    assert letter_pdf(title, body, context, made_at=datetime(2026, 3, 2, tzinfo=UTC)) == pdf
