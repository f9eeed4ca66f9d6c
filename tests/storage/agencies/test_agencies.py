"""Partner agencies: unique names and short codes."""

from __future__ import annotations

import json

import pytest

from storage.agencies.models import AgencyType
from storage.agencies.services import agency_by_code, create_agency
from storage.audit.models import AuditAction
from storage.errors import InvalidRequest
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM


def police(session, **overrides):
    values = {"name": "Northshire Police", "code": "POL", "agency_type": AgencyType.POLICE}
    return create_agency(session, SYSTEM, **(values | overrides))


def errors_of(caught) -> set[str]:
    return set(caught.value.field_errors)


def test_agency_is_created_with_an_upper_case_code_and_audited(session):
    agency = police(session, name="  Northshire Police ", code=" pol ",
                    contact_email="spoc@police.test")
    session.commit()
    assert (agency.name, agency.code, agency.active) == ("Northshire Police", "POL", True)
    assert agency_by_code(session, "pol") is agency
    [entry] = audit_entries(session, entity_type="agencies")
    assert (entry.action, entry.entity_id) == (AuditAction.CREATE, str(agency.id))
    assert json.loads(entry.changes)["after"]["agency_type"] == "police"


def test_duplicate_code_is_refused_whatever_its_case(session):
    police(session)
    with pytest.raises(InvalidRequest) as caught:
        police(session, name="Another Force", code="pol")
    assert errors_of(caught) == {"code"}
    assert "already used" in caught.value.field_errors["code"]


def test_duplicate_name_is_refused_whatever_its_case(session):
    police(session)
    with pytest.raises(InvalidRequest) as caught:
        police(session, name="NORTHSHIRE police", code="NP2")
    assert errors_of(caught) == {"name"}


@pytest.mark.parametrize("code", ["P", "THIRTEENCHARS", "PO L", "PO/L", ""])
def test_code_shape(session, code):
    with pytest.raises(InvalidRequest) as caught:
        police(session, code=code)
    assert errors_of(caught) == {"code"}


def test_hyphenated_code_is_accepted(session):
    assert police(session, code="asb-unit").code == "ASB-UNIT"


def test_unknown_type_and_blank_name_are_refused_together(session):
    with pytest.raises(InvalidRequest) as caught:
        police(session, name=" ", agency_type="bank")
    assert errors_of(caught) == {"name", "agency_type"}
