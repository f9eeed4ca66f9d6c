"""The information sharing agreement: the shipped default's table, its validation, publishing,
and the access model reading it (shares give access only where it allows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from casebridge import clock
from casebridge.yamlsource import DocumentError
from rules.sharing import DEFAULT_FILE, load_default, load_sharing_text
from storage.access import can_see_case, visible_cases
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditEntry
from storage.cases.models import Case
from storage.cases.services import assign_action, share_case
from storage.cases.workflow import open_case
from storage.errors import InvalidRequest, InvalidState
from storage.sharing.services import agreement_in_force, publish
from tests import factories
from tests.factories import SYSTEM

A = AgencyType


@pytest.mark.parametrize(("case_type", "agency_type", "allowed"), [
    ("marac", A.POLICE, True),
    ("marac", A.DOMESTIC_ABUSE_SERVICE, True),
    ("marac", A.HEALTH, True),
    ("marac", A.HOUSING, True),
    ("marac", A.FIRE_RESCUE, False),
    ("marac", A.OTHER, False),
    ("restorative_justice", A.YOUTH_OFFENDING, True),
    ("restorative_justice", A.HEALTH, False),
    ("restorative_justice", A.FIRE_RESCUE, False),
    ("asb", A.FIRE_RESCUE, True),
    ("asb", A.OTHER, True),
    ("hate_crime", A.EDUCATION, True),
    ("asb_case_review", A.MENTAL_HEALTH, True),
    ("a_type_added_later", A.OTHER, True),
])
def test_the_default_agreement_table(case_type, agency_type, allowed):
    assert load_default().allows(case_type, agency_type) is allowed


def test_every_problem_in_a_file_is_reported_with_its_line():
    text = ("partnership: default\nversion: 0\ncase_types:\n  marac: [police, polise]\n"
            "  asb: all\notherwise: [all]\ncolour: red\n")
    with pytest.raises(DocumentError) as caught:
        load_sharing_text(text, "mine.yaml", {"marac", "asb"})
    problems = [str(p) for p in caught.value.problems]
    assert "mine.yaml:2: version: give a version number, 1 or more" in problems
    assert any(p.startswith("mine.yaml:4: case_types.marac[1]: 'polise' is not an agency type")
               for p in problems)
    assert any(p.startswith("mine.yaml:5: case_types.asb: give a list") for p in problems)
    assert "mine.yaml:7: colour: unknown key" in problems
    assert len(problems) == 4


def test_an_unknown_case_type_is_refused_when_publishing(session):
    text = DEFAULT_FILE.read_text().replace("  asb: [all]", "  asbb: [all]")
    with pytest.raises(DocumentError, match="no case type is called 'asbb'"):
        publish(session, SYSTEM, source_text=text, source_name="typo.yaml")


def _v2_without_health_on_marac() -> str:
    return (DEFAULT_FILE.read_text().replace("version: 1", "version: 2")
            .replace("  marac: [police, domestic_abuse_service, council, housing, health,",
                     "  marac: [police, domestic_abuse_service, council, housing,"))


def test_publishing_versions(session):
    row, new = publish(session, SYSTEM, source_text=_v2_without_health_on_marac(),
                       source_name="v2.yaml")
    assert new
    assert row.version == 2
    assert publish(session, SYSTEM, source_text=_v2_without_health_on_marac(),
                   source_name="v2.yaml") == (row, False)
    with pytest.raises(InvalidState, match="version 2 is already published"):
        publish(session, SYSTEM, source_text=DEFAULT_FILE.read_text(), source_name="old.yaml")
    assert not agreement_in_force(session).allows("marac", A.HEALTH)
    session.commit()  # audit entries are written at commit
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "sharing_agreement_versions")).all()
    assert entry, "publishing is audited"


def _marac(session, owner, **kwargs) -> Case:
    return open_case(session, SYSTEM, case_type="marac", title="MARAC referral",
                     owning_agency_id=owner.id, **kwargs)


def _sees(session, user, case) -> tuple[bool, bool]:
    """Both forms of the rule: the SQL clause every list uses, and the per-case check."""
    in_sql = session.scalar(select(Case.id).where(Case.id == case.id, visible_cases(user)))
    return in_sql is not None, can_see_case(session, user, case)


def test_a_case_cannot_be_shared_with_an_agency_type_the_agreement_leaves_out(session):
    police = factories.agency(session, A.POLICE)
    fire = factories.agency(session, A.FIRE_RESCUE)
    case = _marac(session, police)
    with pytest.raises(InvalidRequest) as caught:
        share_case(session, SYSTEM, case_id=case.id, agency_id=fire.id)
    assert "does not allow fire rescue agencies to see marac cases" in str(caught.value)
    assert case.shares == []
    with pytest.raises(InvalidRequest, match="assigned_agency"):
        assign_action(session, SYSTEM, case_id=case.id, title="Fire safety visit",
                      assigned_agency_id=fire.id,
                      due_at=clock.now() + timedelta(days=3))
    with pytest.raises(InvalidRequest, match="share_with"):
        _marac(session, police, share_with_agency_ids=[fire.id])


def test_a_share_gives_access_only_while_the_agreement_allows_it(session):
    police = factories.agency(session, A.POLICE)
    health = factories.agency(session, A.HEALTH)
    other_police = factories.agency(session, A.POLICE)
    case = _marac(session, police)
    share_case(session, SYSTEM, case_id=case.id, agency_id=health.id)
    nurse = factories.user(session, health)
    officer = factories.user(session, police)
    admin = factories.user(session, other_police, Role.PARTNERSHIP_ADMIN)
    stranger = factories.user(session, other_police)
    assert _sees(session, nurse, case) == (True, True)
    assert _sees(session, stranger, case) == (False, False)

    publish(session, SYSTEM, source_text=_v2_without_health_on_marac(), source_name="v2.yaml")
    assert _sees(session, nurse, case) == (False, False)
    assert _sees(session, officer, case) == (True, True)  # the owner is unaffected
    assert _sees(session, admin, case) == (True, True)  # so are partnership-wide roles
