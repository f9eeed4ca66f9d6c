"""The sharing agreement on the web: the read-only page, and the case page's share form
refusing an agency the agreement leaves out, with the message next to the field."""

from __future__ import annotations

import pytest

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from tests import factories
from tests.factories import SYSTEM
from tests.web.test_case_page import enter, prepared


@pytest.fixture
def app(app):
    return prepared(app)


def test_managers_and_admins_read_the_agreement_practitioners_do_not(session, client):
    police = factories.agency(session, AgencyType.POLICE)
    manager = factories.user(session, police, Role.MANAGER)
    practitioner = factories.user(session, police)
    session.commit()
    enter(client, manager)
    page = client.get("/admin/sharing").get_data(as_text=True)
    assert "Information sharing agreement" in page
    assert "police, council, housing, victim service, domestic abuse service" in page
    assert "the shipped default" in page
    enter(client, practitioner)
    assert client.get("/admin/sharing").status_code == 403


def test_sharing_a_marac_case_with_fire_and_rescue_is_refused(session, client):
    police = factories.agency(session, AgencyType.POLICE)
    fire = factories.agency(session, AgencyType.FIRE_RESCUE)
    health = factories.agency(session, AgencyType.HEALTH)
    manager = factories.user(session, police, Role.MANAGER)
    case = factories.open_case(session, SYSTEM, case_type="marac", title="MARAC referral",
                               owning_agency_id=police.id)
    session.commit()
    enter(client, manager)
    response = client.post(f"/cases/{case.reference}/share",
                           data={"share-agency": str(fire.id), "version": str(case.version)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert ("The information sharing agreement does not allow fire rescue agencies to see "
            "marac cases") in page
    assert 'id="share-agency-error"' in page
    session.refresh(case)
    assert case.shares == []
    response = client.post(f"/cases/{case.reference}/share",
                           data={"share-agency": str(health.id), "version": str(case.version)})
    assert response.status_code == 302
    session.refresh(case)
    assert [s.agency_id for s in case.shares] == [health.id]
