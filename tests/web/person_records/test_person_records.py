"""A person's history of changes and their subject access export: who may see them, what
they hold (only cases the requester's agency may see), and that both are audited."""

from __future__ import annotations

import json

import pytest

from storage.accounts.models import Role
from storage.audit.models import AuditAction
from storage.cases.models import ParticipantRole
from storage.cases.services import add_note, add_participant
from storage.people.services import create_person, update_person
from tests import factories
from tests.storage.helpers import audit_entries
from tests.web.conftest import sign_in, user_with_password


@pytest.fixture
def person(session, owner, practitioner):
    actor = factories.actor_for(practitioner)
    found = create_person(session, actor, given_name="Pat", family_name="Historyperson")
    session.commit()
    update_person(session, actor, found.id, family_name="Historie-Person")
    session.commit()
    return found


def test_history_shows_each_change_before_and_after(signed_in, session, person, practitioner):
    profile = signed_in.get(f"/people/{person.id}").get_data(as_text=True)
    assert 'id="history-of-changes"' in profile
    assert 'id="subject-access-json"' not in profile  # a practitioner: no export
    page = signed_in.get(f"/people/{person.id}/history")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Historyperson" in text
    assert "Historie-Person" in text
    assert text.index("Changed") < text.index("Recorded")  # newest first
    viewed = audit_entries(session, action=AuditAction.VIEW, entity_type="people",
                           entity_id=str(person.id))
    assert '"history of changes"' in viewed[-1].changes


def test_other_agencies_cannot_see_the_history_and_the_attempt_is_audited(
        client, session, person):
    stranger = user_with_password(session, factories.agency(session), Role.MANAGER)
    sign_in(client, stranger)
    assert client.get(f"/people/{person.id}/history").status_code == 403
    assert client.get(f"/people/{person.id}/subject-access.json").status_code == 403
    assert len(audit_entries(session, action=AuditAction.ACCESS_DENIED,
                             actor_user_id=stranger.id)) == 2


def test_subject_access_holds_only_what_the_agency_may_see(client, session, owner, person):
    manager = user_with_password(session, owner, Role.MANAGER)
    ours = factories.asb_case(session, owner)
    factories.submit(session, ours, factories.ASB_REPORT)
    add_participant(session, factories.SYSTEM, case_id=ours.id, role=ParticipantRole.VICTIM,
                    person_id=person.id)
    add_note(session, factories.SYSTEM, case_id=ours.id, body="Called back, safe to talk")
    theirs = factories.asb_case(session, factories.agency(session))
    add_participant(session, factories.SYSTEM, case_id=theirs.id,
                    role=ParticipantRole.WITNESS, person_id=person.id)
    session.commit()
    sign_in(client, manager)
    assert 'id="subject-access-json"' in client.get(f"/people/{person.id}").get_data(
        as_text=True)
    response = client.get(f"/people/{person.id}/subject-access.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    held = json.loads(response.get_data(as_text=True))
    assert held["person"]["family_name"] == "Historie-Person"
    assert [c["reference"] for c in held["cases"]] == [ours.reference]
    [case] = held["cases"]
    assert case["their_role"] == ["victim"]
    assert case["notes"][0]["text"] == "Called back, safe to talk"
    assert any(s["answers"].get("description") == "Loud music late at night"
               for s in case["stages"])
    assert theirs.reference not in response.get_data(as_text=True)
    [export] = audit_entries(session, action=AuditAction.EXPORT, entity_type="people")
    assert export.entity_id == str(person.id)
    assert export.actor_user_id == manager.id
    pdf = client.get(f"/people/{person.id}/subject-access.pdf")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
