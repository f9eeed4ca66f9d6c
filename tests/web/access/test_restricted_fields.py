"""A form field restricted by role (MARAC research: health information): other roles are
neither shown it, nor asked it, nor can they submit it; its answer is shown only to the
roles it is restricted to."""

from __future__ import annotations

from datetime import date

import pytest

from forms.loader import shipped_forms
from storage.access import answers_for, form_for
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.cases.models import StageStatus
from tests import factories
from tests.storage.meetings import builders
from tests.web.test_case_page import enter, prepared

HEALTH = "Pregnant, 20 weeks; anxiety treated by her GP"
MEETING_DAY = date(2026, 3, 12)


@pytest.fixture
def app(app):
    return prepared(app)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    return frozen_clock


@pytest.fixture
def police(session):
    return factories.agency(session, AgencyType.POLICE)


@pytest.fixture
def research(session, police):
    """A MARAC case listed for a meeting, its police research stage waiting."""
    case = builders.marac_case(session, police, listed_for=MEETING_DAY)
    session.commit()
    return case, factories.active_stage(case, "research_police")


def _post(client, case, stage, data):
    return client.post(f"/cases/{case.reference}/stages/{stage.id}",
                       data={"version": str(case.version), **data})


ANSWERS = {"known_to_agency": "yes", "information": "Two call-outs in January",
           "representative": "DS Jones"}


def test_the_one_function_removes_the_field_and_its_answer_for_other_roles(session, police):
    form = shipped_forms()["marac_research"]
    practitioner = factories.user(session, police, Role.PRACTITIONER)
    panel = factories.user(session, police, Role.PRACTITIONER, Role.PANEL_MEMBER)
    admin = factories.user(session, police, Role.PARTNERSHIP_ADMIN)
    answers = ANSWERS | {"health_information": HEALTH}
    assert form_for(practitioner, form).field("health_information") is None
    assert form_for(admin, form).field("health_information") is None  # not on the list
    assert form_for(panel, form) is form
    assert "health_information" not in answers_for(practitioner, form, answers)
    assert answers_for(panel, form, answers) == answers


def test_a_practitioner_is_not_asked_and_cannot_submit_it(session, client, police, research):
    case, stage = research
    practitioner = factories.user(session, police, Role.PRACTITIONER)
    session.commit()
    enter(client, practitioner)
    page = client.get(f"/cases/{case.reference}/stages/{stage.id}").get_data(as_text=True)
    assert "Relevant information your agency holds" in page
    assert "Health information" not in page
    assert 'name="health_information"' not in page
    response = _post(client, case, stage, ANSWERS | {"health_information": HEALTH})
    assert response.status_code == 302
    session.refresh(stage)
    assert stage.status is StageStatus.COMPLETED
    assert "health_information" not in stage.form_data


def test_a_panel_member_gives_it_and_only_their_roles_read_it(session, client, police,
                                                              research):
    case, stage = research
    panel = factories.user(session, police, Role.PRACTITIONER, Role.PANEL_MEMBER)
    practitioner = factories.user(session, police, Role.PRACTITIONER)
    manager = factories.user(session, police, Role.MANAGER)
    session.commit()
    enter(client, panel)
    page = client.get(f"/cases/{case.reference}/stages/{stage.id}").get_data(as_text=True)
    assert 'name="health_information"' in page
    assert _post(client, case, stage, ANSWERS | {"health_information": HEALTH}
                 ).status_code == 302
    session.refresh(stage)
    assert stage.form_data["health_information"] == HEALTH

    url = f"/cases/{case.reference}/stages/{stage.id}"
    for user, sees in ((panel, True), (manager, True), (practitioner, False)):
        enter(client, user)
        page = client.get(url).get_data(as_text=True)
        assert "Two call-outs in January" in page
        assert (HEALTH in page) is sees, user.roles
        assert (HEALTH in client.get(f"/cases/{case.reference}").get_data(as_text=True)
                ) is False  # the case page never shows answers


def test_a_subject_access_export_leaves_it_out_for_other_roles(session, client, police,
                                                               research):
    from storage.cases.models import ParticipantRole
    from storage.cases.services import add_participant
    from storage.people.services import create_person
    from storage.people.subject_access import subject_access_export

    case, stage = research
    panel = factories.user(session, police, Role.PRACTITIONER, Role.PANEL_MEMBER)
    practitioner = factories.user(session, police, Role.PRACTITIONER)
    person = create_person(session, factories.actor_for(panel), given_name="Sam",
                           family_name="Subject")
    add_participant(session, factories.SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=person.id)
    session.commit()
    enter(client, panel)
    assert _post(client, case, stage, ANSWERS | {"health_information": HEALTH}
                 ).status_code == 302
    assert HEALTH in str(subject_access_export(session, panel, person))
    held = str(subject_access_export(session, practitioner, person))
    assert "Two call-outs in January" in held
    assert HEALTH not in held


def test_the_audit_log_masks_it_for_readers_outside_its_roles(session, client, police,
                                                              research):
    case, stage = research
    panel = factories.user(session, police, Role.PRACTITIONER, Role.PANEL_MEMBER)
    auditor = factories.user(session, police, Role.AUDITOR)
    session.commit()
    enter(client, panel)
    assert _post(client, case, stage, ANSWERS | {"health_information": HEALTH}
                 ).status_code == 302
    enter(client, auditor)
    page = client.get(f"/audit?case={case.reference}").get_data(as_text=True)
    assert "Two call-outs in January" in page
    assert HEALTH not in page
    assert "(restricted)" in page
    export = client.get(f"/audit/export.csv?case={case.reference}").get_data(as_text=True)
    assert "Two call-outs in January" in export
    assert HEALTH not in export
