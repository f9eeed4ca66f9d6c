"""The action page (GET/POST /actions/<id>): reading an action and its history, and
accepting, declining, recording progress on and completing it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    CaseStatus,
    StageInstance,
    StageStatus,
)
from storage.cases.services import record_action_progress
from storage.cases.workflow import open_case, respond_to_action
from storage.workflows.services import publish
from tests import factories
from tests.web.conftest import sign_in, user_with_password

SYSTEM = factories.SYSTEM


@pytest.fixture
def app(app):
    """Link targets other features serve; stubbed while those features are not there."""
    stubs = {"cases.show": "/cases/<reference>",
             "stages.form": "/cases/<reference>/stages/<int:stage_id>"}
    for endpoint, rule in stubs.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint=endpoint, view_func=lambda **_: "stub")
    return app


@pytest.fixture
def police(session):
    return factories.agency(session, AgencyType.POLICE)


@pytest.fixture
def case(session, police, frozen_clock):
    """A police case; the signed-in practitioner's agency (owner) is asked to do something."""
    case = factories.asb_case(session, police)
    session.commit()
    return case


@pytest.fixture
def action(session, case, owner, frozen_clock):
    action = factories.assign_action(
        session, SYSTEM, case_id=case.id, title="Check the tenancy records",
        detail="Who holds the tenancy of flat 3?", assigned_agency_id=owner.id,
        due_at=frozen_clock.now() + timedelta(days=3),
    )
    session.commit()
    return action


def url(action) -> str:
    return f"/actions/{action.id}"


def text_of(response) -> str:
    return response.get_data(as_text=True)


def fresh(session, action) -> Action:
    session.expire_all()
    return session.get(Action, action.id)


def audit_count(session) -> int:
    return len(session.scalars(select(AuditEntry.id)).all())


def field_error(page: str, field: str) -> str:
    match = re.search(rf'<p id="{field}-error" class="govuk-error-message">\s*'
                      r'<span class="govuk-visually-hidden">Error:</span>\s*([^<]+)</p>', page)
    assert match, f"no error message next to {field}"
    return match.group(1).strip()


# --- reading --------------------------------------------------------------------------------


def test_the_page_shows_the_action_and_is_audited(
    session, case, action, owner, practitioner, signed_in
):
    response = signed_in.get(url(action))
    page = text_of(response)
    assert response.status_code == 200
    assert "<h1 class=\"govuk-heading-l\">Check the tenancy records</h1>" in page
    assert f'href="/cases/{case.reference}"' in page
    assert '<span class="cb-preserve-lines">Who holds the tenancy of flat 3?</span>' in page
    assert owner.name in page
    assert "Nobody yet" in page
    assert "5 March 2026, 9am" in page
    assert "due in 3 days" in page
    assert ">Open</strong>" in page
    assert "Action set" in page, "the history starts with the action being set"
    for form in ("accept", "progress", "complete", "decline"):
        assert f'name="intent" value="{form}"' in page
    assert 'name="csrf_token"' in page
    assert "Take this action" in page
    [view] = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.VIEW, AuditEntry.entity_type == "actions")).all()
    assert (view.entity_id, view.case_id, view.actor_user_id) == (
        str(action.id), case.id, practitioner.id
    )


def test_a_stranger_gets_not_found(session, action, client):
    stranger = user_with_password(session, factories.agency(session, AgencyType.COUNCIL))
    sign_in(client, stranger)
    assert client.get(url(action)).status_code == 404
    assert client.post(url(action), data={"intent": "accept"}).status_code == 404
    assert fresh(session, action).status is ActionStatus.OPEN
    assert client.get("/actions/999999").status_code == 404


def test_another_agency_on_the_case_reads_it_but_cannot_act(session, case, action, client):
    council = factories.agency(session, AgencyType.COUNCIL)
    factories.assign_action(session, SYSTEM, case_id=case.id, title="Council task",
                            assigned_agency_id=council.id, due_at=action.due_at)
    session.commit()
    reader = user_with_password(session, council)
    sign_in(client, reader)
    page = text_of(client.get(url(action)))
    assert "Check the tenancy records" in page
    assert 'name="intent"' not in page
    assert "Only people at" in page
    assert "Take this action" not in page
    for intent in ("accept", "progress", "complete", "decline"):
        refused = client.post(url(action), data={"intent": intent, "progress": "x",
                                                 "outcome": "x", "reason": "x"})
        assert refused.status_code == 403
    assert fresh(session, action).status is ActionStatus.OPEN
    assert fresh(session, action).updates == []


def test_someone_who_only_audits_reads_it_but_cannot_act(session, owner, action, client):
    auditor = user_with_password(session, owner, Role.AUDITOR)
    sign_in(client, auditor)
    assert 'name="intent"' not in text_of(client.get(url(action)))
    assert client.post(url(action), data={"intent": "accept"}).status_code == 403


# --- accepting ------------------------------------------------------------------------------


def test_accepting(session, action, practitioner, signed_in):
    response = signed_in.post(url(action), data={"intent": "accept"})
    assert response.status_code == 303
    assert response.headers["Location"] == url(action)
    assert fresh(session, action).status is ActionStatus.ACCEPTED
    page = text_of(signed_in.get(url(action)))
    assert "You accepted this action" in page
    assert ">Accepted</strong>" in page
    assert re.search(r"moj-timeline__title\">Accepted</h3>\s*<p class=\"moj-timeline__byline\">"
                     rf"by {practitioner.display_name}", page)
    assert 'name="intent" value="accept"' not in page, "no accepting twice"


def test_the_owning_agency_may_act_too(session, police, action, client):
    lead = user_with_password(session, police)
    sign_in(client, lead)
    assert client.post(url(action), data={"intent": "accept"}).status_code == 303
    assert fresh(session, action).status is ActionStatus.ACCEPTED


def test_an_invalid_change_shows_why_and_writes_nothing(session, action, signed_in):
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE,
                      outcome="Checked")
    session.commit()
    before = audit_count(session)
    response = signed_in.post(url(action), data={"intent": "accept"})
    assert response.status_code == 409
    page = text_of(response)
    assert "There is a problem" in page
    assert "An action that is done cannot become accepted" in page
    assert fresh(session, action).status is ActionStatus.DONE
    assert audit_count(session) == before


def test_what_was_typed_is_shown_back_when_the_action_was_settled_meanwhile(
    session, action, signed_in
):
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE,
                      outcome="Checked")
    session.commit()
    response = signed_in.post(url(action), data={"intent": "decline",
                                                 "reason": "Not our tenant at all"})
    assert response.status_code == 409
    page = text_of(response)
    assert "An action that is done cannot become declined" in page
    assert "Not our tenant at all" in page
    assert fresh(session, action).decline_reason is None


# --- declining ------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_declining_needs_a_reason(session, action, signed_in, reason):
    before = audit_count(session)
    response = signed_in.post(url(action), data={"intent": "decline", "reason": reason})
    assert response.status_code == 400
    page = text_of(response)
    assert field_error(page, "reason") == "Say why your agency is declining this action"
    assert 'href="#reason"' in page, "the error summary links to the field"
    assert re.search(rf'name="reason"[^>]*>{reason}</textarea>', page), "what was typed is kept"
    assert fresh(session, action).status is ActionStatus.OPEN
    assert audit_count(session) == before


def test_declining_with_a_reason(session, action, signed_in):
    response = signed_in.post(url(action), data={"intent": "decline",
                                                  "reason": "  No tenancy with us  "})
    assert response.status_code == 303
    declined = fresh(session, action)
    assert (declined.status, declined.decline_reason) == (ActionStatus.DECLINED,
                                                          "No tenancy with us")
    page = text_of(signed_in.get(url(action)))
    assert "You declined this action" in page
    assert "Why it was declined" in page
    assert '<span class="cb-preserve-lines">No tenancy with us</span>' in page
    assert '<strong class="govuk-tag govuk-tag--grey">Declined</strong>' in page
    assert 'name="intent"' not in page, "a declined action takes no more answers"


# --- progress -------------------------------------------------------------------------------


def test_recording_progress(session, action, practitioner, signed_in, frozen_clock):
    frozen_clock.advance(timedelta(minutes=5))
    response = signed_in.post(url(action), data={"intent": "progress",
                                                  "progress": "Asked the lettings team"})
    assert response.status_code == 303
    [update] = fresh(session, action).updates
    assert (update.body, update.author_id) == ("Asked the lettings team", practitioner.id)
    assert fresh(session, action).status is ActionStatus.OPEN
    page = text_of(signed_in.get(url(action)))
    assert "Your progress note has been saved" in page
    history = page[page.index("moj-timeline"):]
    assert history.index("Progress") < history.index("Action set"), "newest first"
    assert "Asked the lettings team" in history


@pytest.mark.parametrize("body", ["", "  \n  "])
def test_empty_progress_is_refused(session, action, signed_in, body):
    response = signed_in.post(url(action), data={"intent": "progress", "progress": body})
    assert response.status_code == 400
    page = text_of(response)
    assert field_error(page, "progress") == "Describe the progress made"
    assert f">{body}</textarea>" in page, "what was typed is kept"
    assert session.scalars(select(ActionUpdate)).all() == []


# --- completing -----------------------------------------------------------------------------


def test_completing_needs_an_outcome(session, action, signed_in):
    before = audit_count(session)
    response = signed_in.post(url(action), data={"intent": "complete", "outcome": " "})
    assert response.status_code == 400
    assert field_error(text_of(response), "outcome") == "Describe the outcome: what was done"
    assert fresh(session, action).status is ActionStatus.OPEN
    assert audit_count(session) == before


def test_completing_with_an_outcome(session, action, signed_in, frozen_clock):
    record_action_progress(session, SYSTEM, action_id=action.id, body="Started")
    session.commit()
    response = signed_in.post(url(action), data={"intent": "complete",
                                                  "outcome": "Flat 3 is let to a Mr Test"})
    assert response.status_code == 303
    done = fresh(session, action)
    assert (done.status, done.outcome, done.completed_at) == (
        ActionStatus.DONE, "Flat 3 is let to a Mr Test", frozen_clock.now()
    )
    page = text_of(signed_in.get(url(action)))
    assert "The action is done" in page
    assert "Flat 3 is let to a Mr Test" in page
    assert 'name="intent"' not in page


SETTLE_DEFINITION = """
key: web_settle_test
name: Waiting for actions
version: 1
reference_prefix: WST
start: share
stages:
  share:
    name: Agencies share what they know
    worked_by: owner
    on_enter:
      - create_action: {title: Share housing records, to: {agency_type: housing},
                        due: 5 working days}
    completes_when: actions_settled
    transitions:
      - {to: closed, otherwise: true, close_reason: Every agency shared}
"""


def test_completing_the_last_action_of_a_waiting_stage_lets_it_move_on(
    session, police, client, frozen_clock
):
    housing = factories.agency(session, AgencyType.HOUSING)
    publish(session, SYSTEM, source_text=SETTLE_DEFINITION, source_name="tests/web_settle.yaml")
    case = open_case(session, SYSTEM, case_type="web_settle_test", title="Sharing",
                     owning_agency_id=police.id)
    stage = factories.active_stage(case, "share")
    [action] = session.scalars(select(Action).where(Action.stage_instance_id == stage.id)).all()
    assert action.assigned_agency_id == housing.id
    session.commit()
    officer = user_with_password(session, housing)
    sign_in(client, officer)
    page = text_of(client.get(url(action)))
    assert "Agencies share what they know" in page
    assert f'href="/cases/{case.reference}/stages/{stage.id}"' in page

    response = client.post(url(action), data={"intent": "complete", "outcome": "Shared"})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(StageInstance, stage.id).status is StageStatus.COMPLETED
    assert session.get(type(case), case.id).status is CaseStatus.CLOSED
    page = text_of(client.get(url(action)))
    assert "“Agencies share what they know” is complete" in page


# --- odd requests ---------------------------------------------------------------------------


def test_an_unknown_answer_is_a_bad_request(action, signed_in):
    assert signed_in.post(url(action), data={"intent": "explode"}).status_code == 400


def test_taking_the_action_from_its_page(session, action, practitioner, signed_in):
    response = signed_in.post("/inbox/claim", data={"action_id": action.id,
                                                    "return_to": url(action)})
    assert (response.status_code, response.headers["Location"]) == (303, url(action))
    assert fresh(session, action).assigned_user_id == practitioner.id
    page = text_of(signed_in.get(url(action)))
    assert "Take this action" not in page
    assert re.search(r"moj-timeline__title\">Taken</h3>", page)


def test_the_history_of_an_action_loaded_in_bulk_comes_from_the_record(
    session, case, action, owner, signed_in, frozen_clock
):
    """An import (or the demo) writes rows without audit entries of their own (`action`
    has shared the case with the practitioner's agency)."""
    imported = Action(case_id=case.id, title="Imported task", assigned_agency_id=owner.id,
                      status=ActionStatus.DONE, due_at=frozen_clock.now(),
                      created_at=frozen_clock.now() - timedelta(days=2),
                      completed_at=frozen_clock.now(), outcome="Finished before the import")
    session.add(imported)
    session.commit()
    page = text_of(signed_in.get(url(imported)))
    history = page[page.index('class="moj-timeline"'):]
    assert history.index(">Done</h3>") < history.index(">Action set</h3>")
    assert "Finished before the import" in history
    assert "28 February 2026, 9am" in history
