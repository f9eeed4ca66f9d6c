"""The stage form page: every shipped form draws, a valid answer moves the case on, each
kind of problem comes back with its message and what was typed, a stale form is a conflict
that keeps the answers, and only the people working the stage may fill it in."""

from __future__ import annotations

import html
import io
import random
import re
from datetime import date, timedelta

import pytest
from flask import render_template_string
from markupsafe import escape
from sqlalchemy import select

from casebridge import clock
from forms.loader import shipped_forms
from forms.model import FieldType
from forms.sampling import sample_answers
from forms.schema import values_from_answers
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import CaseStatus, ParticipantRole, StageStatus
from storage.cases.services import add_participant, share_case, touch
from storage.cases.workflow import pause_case
from storage.documents.models import Document
from storage.people.services import create_location, create_person
from tests import factories
from tests.web.conftest import sign_in, user_with_password
from web.stages import presentation

STUBS = {"cases.show": "/cases/<reference>"}

# What the browser posts for factories.ASB_REPORT (screens as standard risk).
REPORT_FORM = {
    "incident_date-day": "27", "incident_date-month": "2", "incident_date-year": "2026",
    "description": "Loud music late at night", "category": "nuisance",
    "happened_before": "no", "reported_elsewhere": "no", "feels_targeted": "no",
    "disability_or_illness": "no", "hate_motivated": "no", "impact_on_health": "no",
    "fears_for_safety": "no",
}

# Answers to the ASB victim risk matrix that score as standard risk.
RISK_MATRIX = dict.fromkeys((
    "repeat_victim", "targeted_for_identity", "physical_harm", "lives_alone", "disability",
    "mental_health", "children_affected", "sleep_or_work_affected", "considering_moving",
    "perpetrator_nearby", "alcohol_or_drugs", "support_network"), "no") | {
    "assessor_view": "standard"}


@pytest.fixture
def app(app):
    """The case page is built by someone else: stand in for it if it is not there yet."""
    for endpoint, rule in STUBS.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint=endpoint, view_func=lambda **_: "stand-in page")
    return app


def text(response) -> str:
    """The page's words with tags dropped and spaces collapsed, as a reader sees them."""
    words = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(words))


@pytest.fixture
def case(session, owner, practitioner, frozen_clock):
    """An ASB case waiting in its first stage (report), led by the practitioner."""
    case = factories.asb_case(session, owner, factories.actor_for(practitioner),
                              lead_officer_id=practitioner.id)
    session.commit()
    return case


def url(case, stage) -> str:
    return f"/cases/{case.reference}/stages/{stage.id}"


def post(client, case, stage, data, *, version=None):
    form = {"version": str(case.version if version is None else version), **data}
    return client.post(url(case, stage), data=form)


def hidden_version(page: str) -> int:
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match, "the form has no version"
    return int(match.group(1))


# --- every shipped form draws ----------------------------------------------------------------

FIELDS = '{% from "forms/macros.html" import render_form_fields %}' \
         "{{ render_form_fields(form, values, errors, options) }}"
ANSWERS = '{% from "forms/macros.html" import render_answers %}{{ render_answers(form, answers) }}'
OPTIONS = {"person": [(1, "Sam Jones (victim)")], "location": [(1, "1 High Street")],
           "agency": [(1, "Northshire Police")]}


@pytest.fixture(scope="module")
def render_app(engine, tmp_path_factory):
    """One app for drawing forms: its templates compile once for all the shipped forms."""
    from casebridge.runtime import Runtime
    from casebridge.settings import load_settings
    from storage.db import make_session_factory
    from storage.documents.store import DocumentStore
    from web.app import create_app

    folder = tmp_path_factory.mktemp("render")
    settings = load_settings(data_dir=folder, secret_key="test-secret-key")
    runtime = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine),
                      documents=DocumentStore(folder / "documents"))
    return create_app(runtime, testing=True)


def _names(field) -> list[str]:
    if field.type is FieldType.DATE:
        return [f"{field.key}-day", f"{field.key}-month", f"{field.key}-year"]
    if field.type is FieldType.DATETIME:
        return [f"{field.key}-day", f"{field.key}-year", f"{field.key}-time"]
    return [field.key]


@pytest.mark.parametrize("key", sorted(shipped_forms()))
def test_every_shipped_form_draws_with_every_question(render_app, key):
    form = shipped_forms()[key]
    answers = sample_answers(form, random.Random(7), today=date(2026, 3, 1), fill_optional=1)
    for f in form.fields:
        if f.type in (FieldType.PERSON, FieldType.LOCATION, FieldType.AGENCY):
            answers[f.key] = 1
    errors = {f.key: f"Problem with {f.key}" for f in form.fields}
    with render_app.test_request_context():
        empty = render_template_string(FIELDS, form=form, values={}, errors={}, options={})
        filled = render_template_string(FIELDS, form=form, values=values_from_answers(
            form, answers), errors=errors, options=OPTIONS)
        summary = render_template_string(ANSWERS, form=form, answers=answers)
    for f in form.fields:
        assert str(escape(f.label)) in empty, f.key
        for name in _names(f):
            assert f'name="{name}"' in empty, name
        assert f"Problem with {f.key}" in filled
    for key_, value in values_from_answers(form, answers).items():
        if isinstance(value, str) and form.field(key_).type in (FieldType.TEXT,
                                                                FieldType.NUMBER):
            assert f'value="{escape(value)}"' in filled
    assert 'class="govuk-summary-list' in summary
    for score in form.scores:
        assert str(escape(score.label)) in summary


def test_a_question_on_one_radio_answer_is_revealed_by_it(render_app, monkeypatch):
    monkeypatch.setattr(presentation, "USE_CONDITIONAL_REVEALS", True)
    form = shipped_forms()["victim_contact"]
    with render_app.test_request_context():
        page = render_template_string(FIELDS, form=form, values={}, errors={}, options={})
    reveal = page.index('id="conditional-contact_made"')
    assert 'data-aria-controls="conditional-contact_made"' in page
    assert reveal < page.index('name="method"') < page.index('id="contact_made-2"')
    assert "Answer this only if" not in page


def test_other_conditions_are_a_hint_in_words(render_app):
    form = shipped_forms()["cr_application"]
    with render_app.test_request_context():
        page = html.unescape(render_template_string(FIELDS, form=form, values={}, errors={},
                                                    options={}))
    assert ('Answer this only if the answer to "How many complaints about the behaviour has '
            'the victim made in the last 6 months?" is 2 or more.') in page
    assert 'Answer this only if the answer to "Who is applying?" is not "The victim".' in page


def test_nested_conditions_are_revealed_inside_each_other(render_app, monkeypatch):
    monkeypatch.setattr(presentation, "USE_CONDITIONAL_REVEALS", True)
    form = shipped_forms()["rj_risk_assessment"]
    with render_app.test_request_context():
        page = render_template_string(FIELDS, form=form, values={"withdrawn": "no"},
                                      errors={}, options={})
    outer = page.index('id="conditional-withdrawn-2"')
    inner = page.index('id="conditional-safeguarding_concerns"')
    assert outer < inner < page.index('name="safeguarding_referral"')
    assert "govuk-radios__conditional--hidden\" id=\"conditional-withdrawn-2\"" not in page


def test_scored_forms_say_their_answers_are_scored(render_app):
    with render_app.test_request_context():
        page = render_template_string(FIELDS, form=shipped_forms()["asb_report"], values={},
                                      errors={}, options={})
    assert "Some answers on this form are scored" in page
    assert "screening score" in page


def test_yes_no_questions_are_inline_unless_they_reveal_questions(render_app, monkeypatch):
    monkeypatch.setattr(presentation, "USE_CONDITIONAL_REVEALS", True)
    with render_app.test_request_context():
        page = render_template_string(FIELDS, form=shipped_forms()["case_review"], values={},
                                      errors={}, options={})
        revealing = render_template_string(FIELDS, form=shipped_forms()["victim_contact"],
                                           values={}, errors={}, options={})
    assert "govuk-radios--inline" in page
    assert "govuk-radios--inline" not in revealing.split('name="method"')[0]


def test_people_and_places_come_from_the_options(render_app):
    form = shipped_forms()["rj_referral"]
    with render_app.test_request_context():
        page = render_template_string(FIELDS, form=form, values={"harmed_person": "1"},
                                      errors={}, options=OPTIONS)
        none = render_template_string(FIELDS, form=form, values={}, errors={}, options={})
    assert '<option value="1" selected>Sam Jones (victim)</option>' in page
    assert "No people are recorded on this case yet" in none


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_the_stage_its_deadline_who_works_it_and_the_form(
    signed_in, case, session, practitioner
):
    stage = factories.active_stage(case, "report")
    response = signed_in.get(url(case, stage))
    page = text(response)
    assert response.status_code == 200
    assert "Report and risk screening" in page
    assert "due tomorrow" in page
    assert practitioner.display_name in page
    assert "When did it happen (most recent incident)?" in page
    assert hidden_version(response.get_data(as_text=True)) == case.version
    assert 'name="csrf_token"' in response.get_data(as_text=True)
    viewed = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.VIEW, AuditEntry.entity_type == "stage_instances",
        AuditEntry.entity_id == str(stage.id))).all()
    assert len(viewed) == 1
    assert viewed[0].actor_user_id == practitioner.id


def test_an_overdue_stage_says_so(signed_in, case, frozen_clock):
    frozen_clock.advance(timedelta(days=3))
    page = text(signed_in.get(url(case, factories.active_stage(case))))
    assert "overdue" in page


def test_a_valid_report_moves_the_case_on_and_goes_back_to_the_case(
    signed_in, case, session
):
    stage = factories.active_stage(case, "report")
    response = post(signed_in, case, stage, REPORT_FORM)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case.reference}")
    session.refresh(case)
    session.refresh(stage)
    assert stage.status is StageStatus.COMPLETED
    assert stage.form_data == factories.ASB_REPORT
    assert factories.active_stage(case).stage_key == "risk_assessment"
    assert case.risk_level.value == "standard"
    with signed_in.session_transaction() as flask_session:
        flashes = flask_session.get("_flashes", [])
    assert ("success", "Report and risk screening: your answers have been saved.") in flashes


def test_the_flash_include_shows_the_saved_message(app, signed_in, case):
    post(signed_in, case, factories.active_stage(case, "report"), REPORT_FORM)
    with app.test_request_context():
        from flask import session as flask_session

        flask_session["_flashes"] = [("success", "Report and risk screening: saved.")]
        banner = render_template_string('{% include "_flashes.html" %}')
    assert "govuk-notification-banner--success" in banner
    assert "Report and risk screening: saved." in banner


INVALID = [
    pytest.param({"description": ""}, "description", 'Enter an answer to "What happened?"',
                 id="required-missing"),
    pytest.param({"incident_date-day": "31"}, "incident_date",
                 'The date for "When did it happen (most recent incident)?" must be a real date',
                 id="not-a-real-date"),
    pytest.param({"incident_date-month": ""}, "incident_date",
                 'The date for "When did it happen (most recent incident)?" must include a month',
                 id="date-without-month"),
    pytest.param({"description": "x" * 5001}, "description",
                 'The answer to "What happened?" must be 5000 characters or less',
                 id="too-long"),
    pytest.param({"category": "criminal"}, "category",
                 'Select an answer to "What kind of anti-social behaviour is it?"',
                 id="choice-not-offered"),
    pytest.param({"fears_for_safety": ""}, "fears_for_safety",
                 'Select an answer to "Does the victim fear for their safety?"',
                 id="radio-not-chosen"),
]


@pytest.mark.parametrize(("change", "key", "message"), INVALID)
def test_each_problem_comes_back_next_to_its_question_with_everything_typed(
    signed_in, case, session, change, key, message
):
    stage = factories.active_stage(case, "report")
    version = case.version
    response = post(signed_in, case, stage, REPORT_FORM | change)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page
    assert f'href="#{key}' in page  # the summary links to the question
    assert page.count(str(escape(message))) == 2  # in the summary and next to the question
    assert f'id="{key}-error"' in page
    # everything typed is still there
    if "description" not in change:
        assert ">Loud music late at night</textarea>" in page
    for name, typed in change.items():
        if typed and name != "category":
            assert str(escape(typed)) in page
    assert 'value="nuisance" checked' in page or "category" in change
    assert 'id="incident_date-year" name="incident_date-year" type="text" value="2026"' in page
    assert hidden_version(page) == version
    # and nothing was written
    session.refresh(stage)
    assert stage.status is StageStatus.ACTIVE


def test_a_date_error_links_to_the_box_to_fix(signed_in, case):
    stage = factories.active_stage(case, "report")
    page = post(signed_in, case, stage, REPORT_FORM | {"incident_date-month": ""}
                ).get_data(as_text=True)
    assert 'href="#incident_date-month"' in page
    assert re.search(r'class="[^"]*govuk-input--error[^"]*" id="incident_date-month"', page)
    assert not re.search(r'class="[^"]*govuk-input--error[^"]*" id="incident_date-day"', page)


def test_hidden_questions_answers_are_dropped(signed_in, session, owner, practitioner, case):
    factories.submit(session, case, factories.ASB_REPORT)
    factories.submit(session, case, RISK_MATRIX)
    session.commit()
    stage = factories.active_stage(case, "victim_contact")
    response = post(signed_in, case, stage, {
        "contact_made": "no", "method": "phone", "contacted_at-day": "40", "attempts": "1"})
    assert response.status_code == 302
    session.refresh(stage)
    assert stage.form_data == {"contact_made": "no", "attempts": 1}


def test_a_form_loaded_before_someone_else_changed_the_case_is_a_conflict(
    signed_in, case, session
):
    stage = factories.active_stage(case, "report")
    loaded = hidden_version(signed_in.get(url(case, stage)).get_data(as_text=True))
    touch(case, clock.now())  # someone else changes the case meanwhile
    session.commit()
    typed = REPORT_FORM | {"description": "Shouting in the stairwell"}
    response = post(signed_in, case, stage, typed, version=loaded)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this case while you were filling in the form" in text(response)
    assert ">Shouting in the stairwell</textarea>" in page
    assert 'value="nuisance" checked' in page
    assert hidden_version(page) == case.version != loaded
    session.refresh(stage)
    assert stage.status is StageStatus.ACTIVE
    # having checked, they submit again and it works
    again = post(signed_in, case, stage, typed, version=hidden_version(page))
    assert again.status_code == 302
    session.refresh(stage)
    assert stage.form_data["description"] == "Shouting in the stairwell"


def test_a_stage_someone_else_completed_meanwhile_shows_their_answers(
    signed_in, case, session
):
    stage = factories.active_stage(case, "report")
    loaded = case.version
    factories.submit(session, case, factories.ASB_REPORT)
    session.commit()
    response = post(signed_in, case, stage, REPORT_FORM | {"description": "Mine"},
                    version=loaded)
    page = text(response)
    assert response.status_code == 409
    assert "Someone else completed this stage" in page
    assert "Loud music late at night" in page  # theirs
    assert "Your answers (not saved)" in page
    assert "Mine" in page


def test_a_completed_stage_shows_its_answers_read_only(signed_in, case, session):
    stage = factories.active_stage(case, "report")
    factories.submit(session, case, factories.ASB_REPORT)
    session.commit()
    response = signed_in.get(url(case, stage))
    page = text(response)
    assert response.status_code == 200
    assert "Submit answers" not in page
    assert 'name="version"' not in response.get_data(as_text=True)
    assert "27 February 2026" in page
    assert "Nuisance: causing trouble to a community" in page
    assert "Screening score 0 Standard" in page
    assert "Completed" in page
    again = post(signed_in, case, stage, REPORT_FORM)
    assert again.status_code == 409
    assert "already been completed" in text(again)


def test_a_paused_case_cannot_take_the_form(signed_in, case, session):
    factories.submit(session, case, factories.ASB_REPORT)
    factories.submit(session, case, RISK_MATRIX)
    pause_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Waiting for the victim to come back from holiday")
    session.commit()
    assert case.status is CaseStatus.PAUSED
    stage = factories.active_stage(case, "victim_contact")
    assert "This case is paused" in text(signed_in.get(url(case, stage)))
    response = post(signed_in, case, stage, {"contact_made": "no", "attempts": "1"})
    assert response.status_code == 409
    assert "This case is paused" in text(response)
    assert 'value="1"' in response.get_data(as_text=True)  # what was typed is kept


def test_people_on_the_case_are_offered_and_checked(signed_in, session, case, owner):
    person = create_person(session, factories.SYSTEM, given_name="Robin", family_name="Ash")
    place = create_location(session, factories.SYSTEM, address_line_1="1 Test Street")
    add_participant(session, factories.SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=person.id)
    add_participant(session, factories.SYSTEM, case_id=case.id,
                    role=ParticipantRole.INCIDENT_LOCATION, location_id=place.id)
    session.commit()
    from web.stages.views import _options

    with signed_in.application.test_request_context():
        options = _options(case, shipped_forms()["rj_referral"])
    assert options["person"] == [(person.id, "Robin Ash (victim)")]


def test_a_file_question_keeps_the_upload_as_a_case_document(signed_in, case, session,
                                                             monkeypatch):
    from forms.model import Field, FormDefinition
    from web.stages import views

    form = FormDefinition(key="evidence", title="Evidence", fields=(
        Field(key="photo", type=FieldType.FILE, label="Photo of the damage", required=True),))
    monkeypatch.setattr(views, "form_of", lambda stage: form)
    stage = factories.active_stage(case, "report")
    page = signed_in.get(url(case, stage)).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page
    missing = signed_in.post(url(case, stage), data={"version": str(case.version)})
    assert missing.status_code == 400
    assert "Select photo of the damage" in text(missing)
    forged = signed_in.post(url(case, stage), data={"version": str(case.version), "photo": "1"})
    assert forged.status_code == 400, "an id typed into the form is not an upload"
    response = signed_in.post(url(case, stage), content_type="multipart/form-data", data={
        "version": str(case.version),
        "photo": (io.BytesIO(b"\xff\xd8\xff\xe0 a JPEG's first bytes"), "door.jpg")})
    assert response.status_code == 302
    session.refresh(stage)
    document = session.get(Document, stage.form_data["photo"])
    assert document.case_id == case.id
    assert document.filename == "door.jpg"


# --- who may fill it in -----------------------------------------------------------------------


def test_a_case_the_user_may_not_see_is_not_found(client, session, case):
    stranger = user_with_password(session, factories.agency(session))
    sign_in(client, stranger)
    stage = factories.active_stage(case, "report")
    assert client.get(url(case, stage)).status_code == 404
    assert post(client, case, stage, REPORT_FORM).status_code == 404
    session.refresh(stage)
    assert stage.status is StageStatus.ACTIVE


def test_a_stage_of_another_case_is_not_found(signed_in, session, case, owner):
    other = factories.asb_case(session, owner)
    session.commit()
    assert signed_in.get(f"/cases/{case.reference}/stages/{factories.active_stage(other).id}"
                         ).status_code == 404


def test_an_agency_the_case_is_shared_with_may_read_but_not_fill_in(client, session, case):
    housing = factories.agency(session, AgencyType.HOUSING)
    share_case(session, factories.SYSTEM, case_id=case.id, agency_id=housing.id)
    officer = user_with_password(session, housing)
    sign_in(client, officer)
    stage = factories.active_stage(case, "report")
    response = client.get(url(case, stage))
    assert response.status_code == 403
    assert "You cannot fill in this form" in text(response)
    assert "This stage is worked by" in text(response)
    assert post(client, case, stage, REPORT_FORM).status_code == 403
    session.refresh(stage)
    assert stage.status is StageStatus.ACTIVE
    # once it is done, they can read its answers
    factories.submit(session, case, factories.ASB_REPORT)
    session.commit()
    assert client.get(url(case, stage)).status_code == 200


def test_someone_in_the_owning_agency_may_fill_it_in(client, session, case, owner):
    colleague = user_with_password(session, owner, Role.PRACTITIONER)
    sign_in(client, colleague)
    stage = factories.active_stage(case, "report")
    assert client.get(url(case, stage)).status_code == 200
    assert post(client, case, stage, REPORT_FORM).status_code == 302


def test_a_stage_queued_for_managers_is_for_managers(client, session, case, owner,
                                                     practitioner):
    stage = factories.active_stage(case, "report")
    stage.assignee_user_id, stage.assignee_role = None, "manager"
    session.commit()
    sign_in(client, practitioner)
    refused = client.get(url(case, stage))
    assert refused.status_code == 403
    assert "managers at" in text(refused)
    client.post("/sign-out")
    manager = user_with_password(session, owner, Role.MANAGER)
    sign_in(client, manager)
    assert client.get(url(case, stage)).status_code == 200


def test_by_default_dependent_questions_show_with_a_hint_not_a_reveal():
    """GOV.UK's reveal script adds aria-expanded to radios, which axe calls a critical
    violation: dependent questions are shown with an 'Answer this only if' hint instead."""
    from forms.loader import shipped_forms

    layout = presentation.form_layout(shipped_forms()["asb_risk_matrix"])
    reason = next(q for q in layout if q.field.key == "judgement_reason")
    assert not any(q.reveals for q in layout)
    assert reason.condition.startswith("Answer this only if")
