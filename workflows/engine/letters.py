"""LETTER rows: a letter to a person on a case, rendered to PDF and kept on the case as a
document, for a caseworker to check, print and post.

A letter goes to the victim (or complainant, applicant), so unlike an e-mail to a
practitioner it carries their name and address; it is stored behind sign-in like any case
document. Nothing personal goes anywhere else: the outbox payload is ids and the template,
and logs and errors name ids only. A restricted person's address is left off (the owning
agency adds it by hand), so the document cannot show where they live to every agency
that can see the case.

Exactly once: the document row carries the outbox row's key (unique) and is written in the
transaction that marks the row done, so a retry after a crash writes it then, and a row
run again finds it and writes nothing.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.settings import Settings
from storage.accounts.models import User
from storage.actors import Actor
from storage.agencies.models import Agency
from storage.cases.models import Case, StageStatus
from storage.documents.models import Document
from storage.documents.services import attach_document
from storage.documents.store import DocumentStore
from storage.outbox.models import OutboxMessage
from storage.people.models import AddressKind, Location, Person, PersonAddress
from workflows.engine.effects import (
    Delivery,
    Undeliverable,
    case_context,
    get_row,
    payload_id,
)
from workflows.letters import LETTERS_DIR, letter_templates

ENGINE = Actor.system("engine")


def _date_text(value: Any) -> str:
    """'2026-03-10' (a form's date answer) or a date as '10 March 2026'."""
    day = date.fromisoformat(str(value)[:10]) if not isinstance(value, date) else value
    return f"{day.day} {day:%B %Y}"


_templates = Environment(
    loader=FileSystemLoader(LETTERS_DIR),
    autoescape=False,  # noqa: S701  (plain text drawn into a PDF, never HTML)
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
_templates.filters["date_text"] = _date_text
_templates.filters["words"] = lambda value: str(value).replace("_", " ")


@dataclass(frozen=True)
class Letter(Delivery):
    """A rendered letter, stored on its case when its row is marked done."""

    case_id: int
    filename: str
    pdf: bytes
    idempotency_key: str
    store: DocumentStore

    def record(self, session: Session) -> None:
        if _made_already(session, self.idempotency_key):
            return
        attach_document(session, ENGINE, self.store, case_id=self.case_id,
                        filename=self.filename, content_type="application/pdf",
                        stream=io.BytesIO(self.pdf), outbox_key=self.idempotency_key)


def compose_letter(session: Session, message: OutboxMessage, settings: Settings) -> Letter | None:
    """LETTER, queued by a workflow's `letter` effect: payload case_id, person_id, template.
    None (done) if the letter is on the case already."""
    payload = message.payload
    template = str(payload.get("template") or "")
    if template not in letter_templates():
        raise Undeliverable(f"no letter template {template!r}")
    case = get_row(session, Case, payload_id(payload, "case_id"))
    if case is None:
        raise Undeliverable(f"case {payload.get('case_id')} does not exist")
    person = get_row(session, Person, payload_id(payload, "person_id"))
    if person is None:
        raise Undeliverable(f"person {payload.get('person_id')} does not exist")
    if _made_already(session, message.idempotency_key):
        return None
    context = letter_context(session, case, person, settings)
    title, body = render_letter(template, context)
    pdf = letter_pdf(title, body, context, made_at=message.created_at)
    return Letter(case_id=case.id, filename=f"{template.replace('_', '-')}-{case.reference}.pdf",
                  pdf=pdf, idempotency_key=message.idempotency_key,
                  store=DocumentStore(settings.documents_dir))


def _made_already(session: Session, key: str) -> bool:
    return session.scalar(select(Document.id).where(Document.outbox_key == key)) is not None


def letter_context(
    session: Session, case: Case, person: Person, settings: Settings
) -> dict[str, Any]:
    owner = get_row(session, Agency, case.owning_agency_id)
    officer = get_row(session, User, case.lead_officer_id) if case.lead_officer_id else None
    today = clock.now().astimezone(ZoneInfo(settings.timezone)).date()
    answers: dict[str, Any] = {}
    for stage in sorted((s for s in case.stages if s.status is StageStatus.COMPLETED),
                        key=lambda s: (s.completed_at or s.opened_at, s.sequence)):
        answers[stage.stage_key] = dict(stage.form_data or {})  # the latest answers win
    return {
        **case_context(session, case, settings),
        "today": _date_text(today),
        "recipient_name": person.full_name or person.known_as or "Sir or Madam",
        "address": [] if person.restricted else _postal_address(session, person, today),
        "agency_name": owner.name if owner else "",
        "agency_contact": [c for c in (owner.contact_phone, owner.contact_email) if c]
        if owner else [],
        "officer_name": officer.display_name if officer else None,
        "stages": answers,
    }


def _postal_address(session: Session, person: Person, today: date) -> list[str]:
    """The lines of where to write: a correspondence address in force, else home."""
    in_force = [a for a in person.addresses
                if (a.from_date is None or a.from_date <= today)
                and (a.until_date is None or a.until_date >= today)]
    for kind in (AddressKind.CORRESPONDENCE, AddressKind.HOME):
        found: list[PersonAddress] = [a for a in in_force if a.kind is kind]
        if found:
            place: Location = found[-1].location
            return [line for line in (place.address_line_1, place.address_line_2, place.town,
                                      place.postcode) if line]
    return []


def render_letter(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, body) from `letters/<template>.title.txt` and `letters/<template>.txt`."""
    try:
        title = _templates.get_template(f"{template}.title.txt").render(context)
        body = _templates.get_template(f"{template}.txt").render(context)
    except TemplateNotFound:
        raise Undeliverable(f"no letter template {template!r}") from None
    return " ".join(title.split()), body.strip() + "\n"


def letter_pdf(title: str, body: str, context: dict[str, Any], *, made_at: datetime) -> bytes:
    """An A4 letter: the agency top right, the address top left, the date, the heading and
    the body, one paragraph per line of the template. Fonts are the PDF standard ones, so
    nothing is embedded and every viewer and printer has them."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(made_at)  # the same row renders the same file
    pdf.set_creator("Casebridge")
    pdf.set_title(_latin1(title))
    pdf.set_margins(left=25, top=20, right=25)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for line in [context["agency_name"], *context["agency_contact"]]:
        pdf.cell(0, 5, _latin1(line), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", size=11)
    for line in [context["recipient_name"], *context["address"]]:
        pdf.cell(0, 5.5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.cell(0, 5.5, _latin1(context["today"]), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5.5, _latin1(f"Our reference: {context['case_reference']}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.multi_cell(0, 6, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    for paragraph in body.split("\n"):
        pdf.multi_cell(0, 5.5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# Typography, and letters that have no accent to take off (NFKD leaves them as they are).
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " ",
                        "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe",
                        "\u0131": "i"})


def _latin1(text: str) -> str:
    """The standard PDF fonts have Latin-1 only: keep every character they have, the
    letters of the rest without their accents, and '?' where there is no such letter."""
    text = text.translate(_PLAIN)
    kept = []
    for char in text:
        if ord(char) < 256:
            kept.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        kept.append(base or "?")
    return "".join(kept)
