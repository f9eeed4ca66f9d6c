"""The case page: every section for a real ASB case, its forms, who may do what."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta

import pytest
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import select

from casebridge import clock
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import ActionStatus, CaseStatus, LinkKind, Note, ParticipantRole
from storage.cases.services import add_participant, link_cases
from storage.cases.workflow import respond_to_action
from storage.documents.models import Document
from storage.flags.models import Flag, FlagKind
from storage.people.services import create_location, create_person
from tests import factories
from tests.storage.helpers import ASB_PATH

STUBS = {
    "stages.form": "/cases/<reference>/stages/<int:stage_id>",
    "actions.show": "/actions/<int:action_id>",
    "profiles.person": "/people/<int:person_id>",
    "profiles.location": "/locations/<int:location_id>",
}


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once for the whole run rather than once per test's app."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


COMPILED = _CompiledTemplates()


def prepared(app):
    """Pages other engineers build are linked from here: stand in for any not there yet."""
    app.jinja_env.bytecode_cache = COMPILED
    for endpoint, rule in STUBS.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint=endpoint, view_func=lambda **_: "stand-in page")
    return app


@pytest.fixture
def app(app):
    return prepared(app)


def enter(client, user) -> None:
    """Signed in as `user` without the password check (sign-in has its own tests, and
    argon2 is slow on purpose); with two-factor set up, as a user of a role that needs it
    would have, or every page would send them to set it up."""
    from sqlalchemy.orm import object_session

    from storage.accounts.two_factor import enrol_with_secret, new_secret
    from tests.web.conftest import TWO_FACTOR_ROLES

    if TWO_FACTOR_ROLES & user.roles and not user.two_factor_enrolled:
        db = object_session(user)
        enrol_with_secret(db, factories.SYSTEM, user, new_secret())
        db.flush()
    now = clock.now().isoformat()
    with client.session_transaction() as cookie:
        cookie.clear()
        cookie.update(user_id=user.id, signed_in_at=now, last_seen=now,
                      epoch=user.session_epoch)


@pytest.fixture
def practitioner(session, owner):
    return factories.user(session, owner, Role.PRACTITIONER)


@pytest.fixture
def signed_in(client, practitioner):
    enter(client, practitioner)
    return client


def text(response) -> str:
    """The page's words with tags dropped and spaces collapsed, as a reader sees them."""
    page = response.get_data(as_text=True)
    words = re.sub(r"<[^>]+>", " ", re.sub(r"</?(a|span|strong|time)\b[^>]*>", "", page))
    return re.sub(r"\s+", " ", html.unescape(words))


@pytest.fixture
def housing(session):
    return factories.agency(session, AgencyType.HOUSING)


@pytest.fixture
def case(session, owner, practitioner, housing, frozen_clock):
    """An ASB case three stages in (report, risk assessment, victim contact: now 'scan'),
    with an action for housing, a victim and a place, a flag and a note."""
    actor = factories.actor_for(practitioner)
    case = factories.asb_case(session, owner, actor, lead_officer_id=practitioner.id)
    for key in ("report", "risk_assessment", "victim_contact"):
        frozen_clock.advance(timedelta(hours=1))
        factories.submit(session, case, ASB_PATH[key], key=key, actor=actor)
    factories.assign_action(session, actor, case_id=case.id, title="Visit the victim",
                            assigned_agency_id=housing.id,
                            due_at=frozen_clock.now() + timedelta(days=5))
    victim = create_person(session, actor, given_name="Alex", family_name="Example")
    add_participant(session, actor, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=victim.id)
    place = create_location(session, actor, address_line_1="1 Test Street", town="Testtown")
    add_participant(session, actor, case_id=case.id, role=ParticipantRole.INCIDENT_LOCATION,
                    location_id=place.id)
    session.add(Flag(kind=FlagKind.VULNERABLE, person_id=victim.id, detail="Lives alone"))
    session.commit()
    return case


def test_every_section_shows_for_a_case_three_stages_in(signed_in, case, housing):
    response = signed_in.get(f"/cases/{case.reference}")
    assert response.status_code == 200
    page = text(response)
    for heading in ("Summary", "Stages", "Actions", "Chronology", "People and places",
                    "Documents", "Linked cases", "Notes"):
        assert heading in page
    assert "Manage the case" not in page, "a practitioner does not manage the case"
    # Summary
    assert "Anti-social behaviour" in page
    assert "Problem solving" in page, "the business status the workflow set"
    assert "Standard" in page
    assert "govuk-tag--grey" in response.get_data(as_text=True)
    assert housing.name in page, "the action shared the case with housing"
    assert "Vulnerable Alex Example" in page
    # Stages, in the definition's order, with the current one's link
    assert page.index("Report and risk screening") < page.index("Scan: describe the problem")
    body = response.get_data(as_text=True)
    scan = next(s for s in case.stages if s.stage_key == "scan")
    assert f'href="/cases/{case.reference}/stages/{scan.id}"' in body
    assert "Complete this stage" in page
    assert "View answers" in page
    assert "Skipped" in page, "the letter after no contact was never needed"
    assert "Supervisor review" in page
    assert "Next due" in page
    # Actions, people, places
    action = case.actions[0]
    assert f'href="/actions/{action.id}"' in body
    assert "Visit the victim" in page
    assert "Due in 5 days" in page
    assert "Alex Example" in page
    assert "Victim" in page
    assert "1 Test Street" in page


def test_another_agencys_case_is_not_found_unless_shared(client, session, case, housing):
    stranger = factories.user(session, factories.agency(session, AgencyType.COUNCIL))
    enter(client, stranger)
    assert client.get(f"/cases/{case.reference}").status_code == 404
    assert client.get("/cases/ASB-2099-999999").status_code == 404
    worker = factories.user(session, housing)  # housing has an action: the case is shared
    enter(client, worker)
    assert client.get(f"/cases/{case.reference}").status_code == 200


def test_viewing_is_audited(signed_in, session, case, practitioner):
    signed_in.get(f"/cases/{case.reference}")
    views = session.scalars(select(AuditEntry).where(
        AuditEntry.case_id == case.id, AuditEntry.action == AuditAction.VIEW)).all()
    assert [(v.actor_user_id, v.entity_type) for v in views] == [(practitioner.id, "cases")]


def test_chronology_tells_what_changed_in_words_and_leaves_out_views(
        signed_in, case, practitioner, owner, housing):
    signed_in.get(f"/cases/{case.reference}")
    page = text(signed_in.get(f"/cases/{case.reference}"))
    chronology = page[page.index("Everything that has changed"):page.rindex("People and places")]
    who = f"{practitioner.display_name} ({owner.name})"
    assert f"Stage 'Report and risk screening' completed by {who}" in chronology
    assert f"Action 'Visit the victim' given to {housing.name} by {who}" in chronology
    assert f"Case shared with {housing.name}" in chronology
    assert "Case opened as Anti-social behaviour" in chronology
    assert "viewed" not in chronology.lower()
    # newest first
    assert chronology.index("Action 'Visit the victim'") < chronology.index("Case opened")


# --- giving an action -----------------------------------------------------------------------

def action_form(agency, **changes):
    form = {"action-title": "Fit a door viewer", "action-agency": str(agency.id),
            "action-person": "", "action-due-day": "20", "action-due-month": "3",
            "action-due-year": "2026", "action-detail": "Front door of flat 2"}
    return form | changes


def test_giving_an_action_saves_it_and_says_so(signed_in, session, case, housing):
    response = signed_in.post(f"/cases/{case.reference}/actions", data=action_form(housing))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case.reference}#actions")
    session.expire_all()
    action = next(a for a in case.actions if a.title == "Fit a door viewer")
    assert (action.assigned_agency_id, action.detail) == (housing.id, "Front door of flat 2")
    assert action.due_at.date().isoformat() == "2026-03-20"
    page = text(signed_in.get(response.headers["Location"]))
    assert f"Action 'Fit a door viewer' given to {housing.name}" in page


def test_an_action_for_one_person_of_the_agency(signed_in, session, case, housing):
    worker = factories.user(session, housing)
    session.commit()
    response = signed_in.post(f"/cases/{case.reference}/actions",
                              data=action_form(housing, **{"action-person": str(worker.id)}))
    assert response.status_code == 302
    session.expire_all()
    assert next(a for a in case.actions if a.title == "Fit a door viewer").assigned_user_id \
        == worker.id


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"action-title": "  "}, "action-title", "Enter what needs doing"),
    ({"action-agency": ""}, "action-agency", "Choose the agency that will do this"),
    ({"action-due-day": "31", "action-due-month": "2"}, "action-due-day",
     "The date the action is due must be a real date"),
    ({"action-due-day": "", "action-due-month": "", "action-due-year": ""}, "action-due-day",
     "Enter the date the action is due"),
    ({"action-due-month": ""}, "action-due-day",
     "The date the action is due must include a month"),
    ({"action-due-day": "1", "action-due-month": "3"}, "action-due-day",
     "The date the action is due must be today or in the future"),
])
def test_a_wrong_action_form_says_what_to_fix_and_keeps_what_was_typed(
        signed_in, session, case, housing, changes, field, message):
    before = len(case.actions)
    data = action_form(housing, **changes)
    response = signed_in.post(f"/cases/{case.reference}/actions", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in body
    assert f'href="#{field}"' in body, "the error summary links to the field"
    assert f'id="{field.removesuffix("-day") if field.endswith("-day") else field}-error"' in body
    assert message in html.unescape(body)
    for name, value in data.items():
        if value.strip() and name != "action-agency":
            assert f'value="{value}"' in body or f">{value}</textarea>" in body, name
    if data["action-agency"]:
        assert f'<option value="{housing.id}" selected>' in body
    session.expire_all()
    assert len(case.actions) == before


def test_a_person_from_another_agency_is_refused_next_to_the_person(
        signed_in, session, case, housing, practitioner):
    response = signed_in.post(
        f"/cases/{case.reference}/actions",
        data=action_form(housing, **{"action-person": str(practitioner.id)}))
    assert response.status_code == 400
    body = html.unescape(response.get_data(as_text=True))
    assert 'id="action-person-error"' in body
    assert "Choose someone who works for the agency doing this" in body
    assert f'<option value="{practitioner.id}" selected>' in body


# --- documents ------------------------------------------------------------------------------

def test_a_document_uploads_lists_and_downloads_with_an_audit_entry(
        signed_in, session, case, practitioner):
    response = signed_in.post(
        f"/cases/{case.reference}/documents",
        data={"document-file": (io.BytesIO(b"%PDF-1.4 a letter"), "letter.pdf",
                                "application/pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    document = session.scalar(select(Document).where(Document.case_id == case.id))
    assert (document.filename, document.size_bytes) == ("letter.pdf", 17)
    page = signed_in.get(f"/cases/{case.reference}")
    assert "letter.pdf" in text(page)
    assert "17 bytes" in text(page)
    download = signed_in.get(f"/cases/{case.reference}/documents/{document.id}")
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 a letter"
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "letter.pdf" in download.headers["Content-Disposition"]
    download.close()
    viewed = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "documents", AuditEntry.action == AuditAction.VIEW)).all()
    assert [(v.entity_id, v.case_id) for v in viewed] == [(str(document.id), case.id)]


def test_an_empty_or_missing_file_is_refused(signed_in, session, case):
    empty = signed_in.post(
        f"/cases/{case.reference}/documents",
        data={"document-file": (io.BytesIO(b""), "empty.txt", "text/plain")},
        content_type="multipart/form-data")
    assert empty.status_code == 400
    assert "The selected file is empty" in empty.get_data(as_text=True)
    assert 'id="document-file-error"' in empty.get_data(as_text=True)
    missing = signed_in.post(f"/cases/{case.reference}/documents", data={},
                             content_type="multipart/form-data")
    assert missing.status_code == 400
    assert "Select a file to upload" in missing.get_data(as_text=True)
    assert session.scalar(select(Document).where(Document.case_id == case.id)) is None


def test_a_file_over_the_limit_is_refused_with_a_page(app, signed_in, session, case):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = signed_in.post(
        f"/cases/{case.reference}/documents",
        data={"document-file": (io.BytesIO(b"x" * 4096), "big.bin", "application/pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 413
    assert "The file is too big" in response.get_data(as_text=True)
    assert session.scalar(select(Document).where(Document.case_id == case.id)) is None


def test_someone_who_cannot_see_the_case_cannot_download_its_documents(
        client, session, case, practitioner):
    enter(client, practitioner)
    client.post(f"/cases/{case.reference}/documents",
                data={"document-file": (io.BytesIO(b"secret"), "s.txt", "text/plain")},
                content_type="multipart/form-data")
    document = session.scalar(select(Document).where(Document.case_id == case.id))
    enter(client, factories.user(session, factories.agency(session, AgencyType.COUNCIL)))
    assert client.get(f"/cases/{case.reference}/documents/{document.id}").status_code == 404


def test_a_document_of_another_case_is_not_found(signed_in, session, case, owner):
    other = factories.asb_case(session, owner)
    session.commit()
    signed_in.post(f"/cases/{other.reference}/documents",
                   data={"document-file": (io.BytesIO(b"x"), "x.txt", "text/plain")},
                   content_type="multipart/form-data")
    document = session.scalar(select(Document).where(Document.case_id == other.id))
    assert signed_in.get(f"/cases/{case.reference}/documents/{document.id}").status_code == 404


# --- notes and links ------------------------------------------------------------------------

def test_a_note_is_added_and_shown_newest_first(signed_in, session, case):
    for body in ("First call made", "Second call made"):
        assert signed_in.post(f"/cases/{case.reference}/notes",
                              data={"note-body": body}).status_code == 302
    page = text(signed_in.get(f"/cases/{case.reference}"))
    assert "Note added" in page
    assert page.index("Second call made") < page.index("First call made")


def test_an_empty_note_is_refused(signed_in, session, case):
    response = signed_in.post(f"/cases/{case.reference}/notes", data={"note-body": "   "})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Write the note before saving it" in body
    assert 'id="note-body-error"' in body
    assert session.scalar(select(Note).where(Note.case_id == case.id)) is None


def test_a_note_for_one_agency_stays_there(client, session, case, practitioner, housing):
    enter(client, practitioner)
    client.post(f"/cases/{case.reference}/notes",
                data={"note-body": "Intelligence only", "note-restricted": "yes"})
    assert "Intelligence only" in text(client.get(f"/cases/{case.reference}"))
    enter(client, factories.user(session, housing))
    assert "Intelligence only" not in text(client.get(f"/cases/{case.reference}"))


def test_linking_to_another_case_shows_on_both(signed_in, session, case, owner):
    other = factories.asb_case(session, owner)
    other.title = "Graffiti on the same block"
    session.commit()
    response = signed_in.post(f"/cases/{case.reference}/links",
                              data={"link-reference": other.reference.lower(),
                                    "link-kind": "same_incident", "link-reason": "Same flats"})
    assert response.status_code == 302
    page = text(signed_in.get(f"/cases/{case.reference}"))
    assert f"Same incident as {other.reference}: Graffiti on the same block" in page
    assert f"Same incident as {case.reference}" in text(signed_in.get(f"/cases/{other.reference}"))


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"link-reference": "ASB-2099-999999", "link-kind": "related"}, "link-reference",
     "No case you can see has the reference ASB-2099-999999"),
    ({"link-reference": "", "link-kind": "related"}, "link-reference",
     "Enter the reference of the case to link to"),
    ({"link-reference": "SELF", "link-kind": "related"}, "link-reference",
     "a case cannot be linked to itself"),
    ({"link-reference": "SELF"}, "link-kind", "Choose how the cases are linked"),
])
def test_a_wrong_link_is_refused(signed_in, case, data, field, message):
    data = {k: (case.reference if v == "SELF" else v) for k, v in data.items()}
    response = signed_in.post(f"/cases/{case.reference}/links", data=data)
    assert response.status_code == 400
    body = html.unescape(response.get_data(as_text=True))
    assert message in body
    assert f'href="#{field}"' in body
    if data.get("link-reference"):
        assert f'value="{data["link-reference"]}"' in body


def test_a_case_the_user_cannot_see_is_not_offered_for_linking(signed_in, session, case):
    hidden = factories.asb_case(session, factories.agency(session, AgencyType.COUNCIL))
    session.commit()
    response = signed_in.post(f"/cases/{case.reference}/links",
                              data={"link-reference": hidden.reference, "link-kind": "related"})
    assert response.status_code == 400
    assert "No case you can see has the reference" in response.get_data(as_text=True)


def test_a_link_to_a_case_the_user_cannot_see_does_not_name_it(
        signed_in, session, case, practitioner):
    hidden = factories.asb_case(session, factories.agency(session, AgencyType.COUNCIL))
    link_cases(session, factories.SYSTEM, from_case_id=hidden.id, to_case_id=case.id,
               kind=LinkKind.ESCALATED_TO)
    session.commit()
    page = text(signed_in.get(f"/cases/{case.reference}"))
    assert "Escalated from a case your agency cannot see" in page
    assert hidden.reference not in page


# --- managing the case ----------------------------------------------------------------------

MANAGER_FORMS = {
    "close": {"close-reason": "Resolved"}, "reopen": {"reopen-reason": "It started again"},
    "pause": {"pause-reason": "Victim in hospital"}, "resume": {},
    "move": {"move-stage": "respond", "move-reason": "Plan agreed at the meeting"},
    "share": {"share-agency": "0"},
}


@pytest.fixture
def manager(session, owner):
    return factories.user(session, owner, Role.MANAGER)


@pytest.mark.parametrize("form", sorted(MANAGER_FORMS))
def test_a_practitioner_cannot_manage_the_case(signed_in, session, case, form):
    data = MANAGER_FORMS[form] | {"version": str(case.version)}
    response = signed_in.post(f"/cases/{case.reference}/{form}", data=data)
    assert response.status_code == 403
    session.expire_all()
    assert case.status is CaseStatus.OPEN


def test_a_manager_of_another_agency_cannot_either(client, session, case, housing):
    enter(client, factories.user(session, housing, Role.MANAGER))
    page = text(client.get(f"/cases/{case.reference}"))
    assert "Manage the case" not in page
    response = client.post(f"/cases/{case.reference}/pause",
                           data={"pause-reason": "x", "version": str(case.version)})
    assert response.status_code == 403


def test_closing_is_refused_while_actions_are_outstanding(client, session, case, manager):
    enter(client, manager)
    assert "Manage the case" in text(client.get(f"/cases/{case.reference}"))
    response = client.post(f"/cases/{case.reference}/close",
                           data={"close-reason": "All sorted", "version": str(case.version)})
    assert response.status_code == 409
    body = html.unescape(response.get_data(as_text=True))
    assert "outstanding action(s) ('Visit the victim')" in body
    assert 'href="#close-reason"' in body
    assert ">All sorted</textarea>" in body, "the reason typed is kept"
    session.expire_all()
    assert case.status is CaseStatus.OPEN


def test_a_manager_closes_and_reopens_the_case(client, session, case, manager):
    respond_to_action(session, factories.SYSTEM, action_id=case.actions[0].id,
                      status=ActionStatus.DONE, outcome="Visited")
    session.commit()
    enter(client, manager)
    response = client.post(f"/cases/{case.reference}/close",
                           data={"close-reason": "Resolved by agreement",
                                 "version": str(case.version)})
    assert response.status_code == 302
    session.expire_all()
    assert (case.status, case.closure_reason) == (CaseStatus.CLOSED, "Resolved by agreement")
    page = text(client.get(f"/cases/{case.reference}"))
    assert "Case closed" in page
    assert "Resolved by agreement" in page
    assert "Reopen the case" in page
    assert "Give an agency an action" not in page
    response = client.post(f"/cases/{case.reference}/reopen",
                           data={"reopen-reason": "It started again",
                                 "version": str(case.version)})
    assert response.status_code == 302
    session.expire_all()
    assert case.status is CaseStatus.OPEN
    assert "Case reopened" in text(client.get(f"/cases/{case.reference}"))


def test_a_manager_pauses_resumes_moves_and_shares(client, session, case, manager):
    enter(client, manager)
    assert client.post(f"/cases/{case.reference}/pause",
                       data={"pause-reason": "Victim in hospital",
                             "version": str(case.version)}).status_code == 302
    session.expire_all()
    assert case.status is CaseStatus.PAUSED
    assert "Victim in hospital" in text(client.get(f"/cases/{case.reference}"))
    assert client.post(f"/cases/{case.reference}/resume",
                       data={"version": str(case.version)}).status_code == 302
    session.expire_all()
    assert case.status is CaseStatus.OPEN
    response = client.post(f"/cases/{case.reference}/move",
                           data={"move-stage": "respond", "move-reason": "Plan agreed",
                                 "version": str(case.version)})
    assert response.status_code == 302
    session.expire_all()
    assert [s.stage_key for s in case.active_stages if not s.stage_key.startswith(
        ("review", "victim_update"))] == ["respond"]
    assert "Case moved by hand to 'Respond: action plan'" in text(
        client.get(f"/cases/{case.reference}"))
    council = factories.agency(session, AgencyType.COUNCIL)
    session.commit()
    response = client.post(f"/cases/{case.reference}/share",
                           data={"share-agency": str(council.id), "version": str(case.version)})
    assert response.status_code == 302
    session.expire_all()
    assert council.id in {s.agency_id for s in case.shares}


@pytest.mark.parametrize(("form", "data", "field", "message"), [
    ("close", {"close-reason": " "}, "close-reason", "Say why the case is being closed"),
    ("pause", {"pause-reason": ""}, "pause-reason", "Say why the case is paused"),
    ("move", {"move-reason": "x"}, "move-stage", "Choose the stage to move the case to"),
    ("move", {"move-stage": "review", "move-reason": "x"}, "move-stage",
     "Choose the stage to move the case to"),
    ("move", {"move-stage": "respond"}, "move-reason", "Say why the case is being moved"),
    ("share", {"share-agency": ""}, "share-agency", "Choose an agency to share the case with"),
])
def test_manager_forms_say_what_is_missing(client, session, case, manager, form, data, field,
                                           message):
    enter(client, manager)
    response = client.post(f"/cases/{case.reference}/{form}",
                           data=data | {"version": str(case.version)})
    assert response.status_code == 400
    body = html.unescape(response.get_data(as_text=True))
    assert message in body
    assert f'href="#{field}"' in body


def test_closing_with_an_old_version_is_a_conflict_that_keeps_the_reason(
        client, session, case, manager):
    respond_to_action(session, factories.SYSTEM, action_id=case.actions[0].id,
                      status=ActionStatus.DONE, outcome="Visited")
    session.commit()
    old = case.version
    enter(client, manager)
    client.post(f"/cases/{case.reference}/pause",
                data={"pause-reason": "Waiting", "version": str(old)})
    response = client.post(f"/cases/{case.reference}/close",
                           data={"close-reason": "My careful reason", "version": str(old)})
    assert response.status_code == 409
    body = html.unescape(response.get_data(as_text=True))
    assert "was changed by someone else while you were working on it" in body
    assert ">My careful reason</textarea>" in body
    session.expire_all()
    assert case.status is CaseStatus.PAUSED
    assert f'name="version" value="{case.version}"' in body, "a second try uses the new version"


def test_sharing_with_an_old_version_is_a_conflict(client, session, case, manager):
    enter(client, manager)
    council = factories.agency(session, AgencyType.COUNCIL)
    session.commit()
    response = client.post(f"/cases/{case.reference}/share",
                           data={"share-agency": str(council.id),
                                 "version": str(case.version - 1)})
    assert response.status_code == 409
    session.expire_all()
    assert council.id not in {s.agency_id for s in case.shares}


def test_a_partnership_admin_of_any_agency_manages(client, session, case, housing):
    enter(client, factories.user(session, housing, Role.PARTNERSHIP_ADMIN))
    assert "Manage the case" in text(client.get(f"/cases/{case.reference}"))


def test_an_auditor_reads_but_does_not_change(client, session, case, housing):
    enter(client, factories.user(session, housing, Role.AUDITOR))
    page = text(client.get(f"/cases/{case.reference}"))
    assert "Give an agency an action" not in page
    assert "Add a note" not in page
    assert client.post(f"/cases/{case.reference}/notes",
                       data={"note-body": "x"}).status_code == 403


def test_the_chronology_is_paged_fifty_at_a_time(signed_in, session, case):
    for n in range(60):
        factories.assign_action(session, factories.SYSTEM, case_id=case.id, title=f"Task {n}",
                                assigned_agency_id=case.owning_agency_id,
                                due_at=case.opened_at + timedelta(days=30))
    session.commit()
    first = text(signed_in.get(f"/cases/{case.reference}"))
    assert "Action 'Task 59'" in first
    assert "Case opened" not in first
    assert "page 1 of 2" in first
    second = text(signed_in.get(f"/cases/{case.reference}?events=2"))
    assert "Case opened" in second
    assert "Action 'Task 59'" not in second


def test_the_chronology_tells_how_actions_went(signed_in, session, case):
    from storage.cases import services

    action = case.actions[0]
    progress = getattr(services, "record_action_progress", None)
    if progress is not None:
        progress(session, factories.SYSTEM, action_id=action.id, body="Left a card")
    respond_to_action(session, factories.SYSTEM, action_id=action.id,
                      status=ActionStatus.DONE, outcome="Visited on Tuesday")
    session.commit()
    page = text(signed_in.get(f"/cases/{case.reference}"))
    assert "Action 'Visit the victim' done by Casebridge (automatically)" in page
    assert "Visited on Tuesday" in page
    if progress is not None:
        assert "Progress recorded on action 'Visit the victim'" in page
        assert "Left a card" in page
