"""The task inbox (GET /) and taking queued work (POST /inbox/claim)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import (
    Action,
    ActionStatus,
    CaseShare,
    ParticipantRole,
    RiskLevel,
    StageInstance,
)
from storage.cases.services import add_participant
from storage.cases.workflow import open_case, respond_to_action
from storage.people.services import create_location
from storage.workflows.services import publish
from tests import factories
from tests.web.conftest import sign_in, user_with_password
from web import navigation
from web.inbox.queries import PAGE_SIZE

SYSTEM = factories.SYSTEM

# A case type with a stage that has no deadline, and one queued for the owner's managers.
INBOX_TEST_DEFINITION = """
key: inbox_test
name: Inbox test referral
version: 1
reference_prefix: INB
start: [triage, manager_check]
stages:
  triage:
    name: Triage the referral
    worked_by: owner
    transitions:
      - {to: closed, otherwise: true, close_reason: Triaged}
  manager_check:
    name: Manager check
    worked_by: {role: manager}
    transitions:
      - {to: closed, otherwise: true, close_reason: Checked}
"""


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
def other(session):
    return factories.agency(session, AgencyType.HOUSING)


@pytest.fixture
def inbox_test_type(session):
    publish(session, SYSTEM, source_text=INBOX_TEST_DEFINITION,
            source_name="tests/inbox_test.yaml")
    session.commit()


def queued_case(session, agency, **details):
    """An ASB case with no lead officer: its report stage waits in the agency's queue."""
    case = factories.asb_case(session, agency, **details)
    session.commit()
    return case


def referral(session, agency):
    case = open_case(session, SYSTEM, case_type="inbox_test", title="A referral",
                     owning_agency_id=agency.id)
    session.commit()
    return case


def action_for(session, case, agency, frozen_clock, *, days=5, user=None, title="Visit"):
    action = factories.assign_action(
        session, SYSTEM, case_id=case.id, title=title, assigned_agency_id=agency.id,
        assigned_user_id=user.id if user else None,
        due_at=frozen_clock.now() + timedelta(days=days),
    )
    session.commit()
    return action


def page_of(client, query: str = "") -> str:
    response = client.get(f"/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def sections(page: str) -> tuple[str, str]:
    """(Assigned to me, My agency's queue)."""
    start, queue = page.index('id="mine"'), page.index('id="queue"')
    return page[start:queue], page[queue:]


def references(html: str) -> list[str]:
    return re.findall(r'href="/cases/([A-Z]+-\d{4}-\d+)"', html)


def work_links(html: str) -> list[str]:
    return re.findall(r'href="(/actions/\d+|/cases/[^"]+/stages/\d+)"', html)


def stage_link(stage: StageInstance) -> str:
    return f"/cases/{stage.case.reference}/stages/{stage.id}"


# --- the home page --------------------------------------------------------------------------


def test_the_inbox_is_the_home_page_and_first_in_the_navigation(client, practitioner):
    assert navigation.HOME_ENDPOINT == "inbox.index"
    assert navigation.ITEMS[0] == ("Inbox", "inbox.index")
    signed = sign_in(client, practitioner)
    assert signed.headers["Location"] == "/"
    page = page_of(client)
    assert "<h1 class=\"govuk-heading-l\">Your work</h1>" in page
    nav = page[page.index("govuk-service-navigation__list"):]
    first_link = re.search(r'href="([^"]+)"', nav).group(1)
    assert first_link == "/"


def test_empty_inbox_says_so_in_plain_words(signed_in):
    mine, queue = sections(page_of(signed_in))
    assert "Assigned to me (0)" in mine
    assert "Nothing is assigned to you at the moment." in mine
    assert "My agency's queue (0)" in queue
    assert "Your agency's queue is empty" in queue
    filtered = page_of(signed_in, "?risk=high")
    assert "Nothing assigned to you matches these filters." in filtered
    assert "matches these filters" in sections(filtered)[1]


def test_my_stages_and_actions_are_assigned_to_me(
    session, owner, practitioner, signed_in, frozen_clock
):
    led = factories.asb_case(session, owner, lead_officer_id=practitioner.id)
    session.commit()
    report = factories.active_stage(led)
    other_case = queued_case(session, owner)
    mine_action = action_for(session, other_case, owner, frozen_clock, user=practitioner,
                             title="Ring the victim")

    mine, queue = sections(page_of(signed_in))
    assert "Assigned to me (2)" in mine
    assert set(work_links(mine)) == {stage_link(report), f"/actions/{mine_action.id}"}
    assert "Report and risk screening" in mine
    assert "Ring the victim" in mine
    assert "Anti-social behaviour" in mine, "the case type's name"
    assert set(references(mine)) == {led.reference, other_case.reference}
    assert "Take this" not in mine
    assert stage_link(report) not in queue


def test_accepted_and_overdue_actions_stay_listed_done_and_declined_do_not(
    session, owner, practitioner, signed_in, frozen_clock
):
    case = queued_case(session, owner)
    actions = [action_for(session, case, owner, frozen_clock, user=practitioner,
                          title=f"Task {n}") for n in range(4)]
    respond_to_action(session, SYSTEM, action_id=actions[0].id, status=ActionStatus.ACCEPTED)
    respond_to_action(session, SYSTEM, action_id=actions[1].id, status=ActionStatus.OVERDUE)
    respond_to_action(session, SYSTEM, action_id=actions[2].id, status=ActionStatus.DONE,
                      outcome="Done")
    respond_to_action(session, SYSTEM, action_id=actions[3].id, status=ActionStatus.DECLINED,
                      reason="Not ours")
    session.commit()
    mine, _ = sections(page_of(signed_in))
    assert set(work_links(mine)) == {f"/actions/{actions[0].id}", f"/actions/{actions[1].id}"}
    assert "Action, accepted" in mine
    assert "Action, overdue" in mine


def test_my_agencys_queue_holds_untaken_work_of_my_agency_only(
    session, owner, other, practitioner, signed_in, frozen_clock
):
    queued = queued_case(session, owner)
    elsewhere = queued_case(session, other)  # another agency's queue, a case I cannot see
    colleague = factories.user(session, owner)
    shared = queued_case(session, other, share_with_agency_ids=[owner.id])
    ours = action_for(session, shared, owner, frozen_clock, title="Check our records")
    taken = action_for(session, queued, owner, frozen_clock, user=colleague, title="Taken")
    theirs = action_for(session, queued, other, frozen_clock, title="For the other agency")

    mine, queue = sections(page_of(signed_in))
    assert set(work_links(queue)) == {stage_link(factories.active_stage(queued)),
                                      f"/actions/{ours.id}"}
    assert "My agency's queue (2)" in queue
    assert queue.count("Take this") == 2
    page = page_of(signed_in)
    assert elsewhere.reference not in page
    assert f"/actions/{taken.id}" not in page
    assert f"/actions/{theirs.id}" not in page
    assert stage_link(factories.active_stage(shared)) not in page, "the other agency's stage"
    assert "Case owned by " + other.name in queue
    assert mine.count("<tbody") == 0


def test_stages_queued_for_a_role_show_only_to_people_with_it(
    session, owner, practitioner, client, inbox_test_type
):
    case = referral(session, owner)
    check = factories.active_stage(case, "manager_check")
    triage = factories.active_stage(case, "triage")
    sign_in(client, practitioner)
    assert set(work_links(sections(page_of(client))[1])) == {stage_link(triage)}

    manager = user_with_password(session, owner, Role.MANAGER)
    client.post("/sign-out")
    sign_in(client, manager)
    queue = sections(page_of(client))[1]
    assert set(work_links(queue)) == {stage_link(triage), stage_link(check)}
    assert "Any of its managers" in queue


def test_work_on_cases_i_may_no_longer_see_is_not_listed(
    session, owner, other, signed_in, frozen_clock
):
    case = queued_case(session, other)
    action = action_for(session, case, owner, frozen_clock)  # shares the case with us
    assert f"/actions/{action.id}" in page_of(signed_in)
    session.execute(delete(CaseShare).where(CaseShare.case_id == case.id))
    session.commit()
    assert f"/actions/{action.id}" not in page_of(signed_in)


# --- order ----------------------------------------------------------------------------------


def test_overdue_first_most_overdue_first_then_soonest_due_then_no_deadline(
    session, owner, practitioner, client, frozen_clock, inbox_test_type
):
    no_deadline = referral(session, owner)
    frozen_clock.advance(timedelta(minutes=1))
    older = queued_case(session, owner)
    frozen_clock.advance(timedelta(days=1))
    newer = queued_case(session, owner)
    frozen_clock.advance(timedelta(days=3))  # both reports are now past their deadline
    later = action_for(session, older, owner, frozen_clock, days=6, title="Later")
    sooner = action_for(session, newer, owner, frozen_clock, days=2, title="Sooner")
    assert factories.active_stage(older).due_at < factories.active_stage(newer).due_at
    assert factories.active_stage(newer).due_at < frozen_clock.now()

    sign_in(client, practitioner)
    queue = sections(page_of(client))[1]
    assert work_links(queue) == [
        stage_link(factories.active_stage(older)),
        stage_link(factories.active_stage(newer)),
        f"/actions/{sooner.id}",
        f"/actions/{later.id}",
        stage_link(factories.active_stage(no_deadline, "triage")),
    ]
    assert queue.count("days overdue") == 2
    assert queue.count('class="cb-overdue"') >= 2
    assert "No deadline" in queue
    assert "2 overdue" in queue


# --- filters --------------------------------------------------------------------------------


@pytest.fixture
def mixed(session, owner, frozen_clock, inbox_test_type):
    """Four pieces of queued work: an overdue report on a high-risk case in Northside, an
    action due this week, an action due next week, and a stage with no deadline."""
    high = queued_case(session, owner, risk_level=RiskLevel.HIGH)
    place = create_location(session, SYSTEM, address_line_1="1 Test Street", area="Northside")
    elsewhere = create_location(session, SYSTEM, address_line_1="2 Test Street", area="Southside")
    add_participant(session, SYSTEM, case_id=high.id, role=ParticipantRole.INCIDENT_LOCATION,
                    location_id=place.id)
    standard = queued_case(session, owner, risk_level=RiskLevel.STANDARD)
    add_participant(session, SYSTEM, case_id=standard.id,
                    role=ParticipantRole.INCIDENT_LOCATION, location_id=elsewhere.id)
    session.commit()
    frozen_clock.advance(timedelta(days=2))  # Wednesday: the reports are overdue
    this_week = action_for(session, standard, owner, frozen_clock, days=2, title="This week")
    next_week = action_for(session, standard, owner, frozen_clock, days=9, title="Next week")
    triage = factories.active_stage(referral(session, owner), "triage")
    return {"high": stage_link(factories.active_stage(high)),
            "standard": stage_link(factories.active_stage(standard)),
            "this_week": f"/actions/{this_week.id}", "next_week": f"/actions/{next_week.id}",
            "no_deadline": stage_link(triage)}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"high", "standard", "this_week", "next_week", "no_deadline"}),
    ("?case_type=inbox_test", {"no_deadline"}),
    ("?case_type=asb", {"high", "standard", "this_week", "next_week"}),
    ("?risk=high", {"high"}),
    ("?risk=standard", {"standard", "this_week", "next_week"}),
    ("?risk=not_set", {"no_deadline"}),
    ("?area=Northside", {"high"}),
    ("?area=Southside", {"standard", "this_week", "next_week"}),
    ("?due=overdue", {"high", "standard"}),
    ("?due=week", {"this_week"}),
    ("?due=all", {"high", "standard", "this_week", "next_week", "no_deadline"}),
    ("?risk=standard&due=week", {"this_week"}),
    ("?case_type=nonsense&risk=nonsense&due=nonsense",
     {"high", "standard", "this_week", "next_week", "no_deadline"}),
])
def test_each_filter(client, practitioner, mixed, query, expected):
    sign_in(client, practitioner)
    page = page_of(client, query)
    queue = sections(page)[1]
    assert set(work_links(queue)) == {mixed[key] for key in expected}
    assert f"My agency's queue ({len(expected)})" in queue


def test_the_filter_form_works_without_javascript_and_shows_what_is_chosen(
    client, practitioner, mixed
):
    sign_in(client, practitioner)
    page = page_of(client, "?risk=high&area=Northside&due=overdue")
    form = page[page.index('class="moj-filter__options"'):]
    assert '<form method="get" action="/"' in form
    assert re.search(r'<option value="high"\s+selected', form)
    assert re.search(r'<option value="Northside"\s+selected', form)
    assert re.search(r'value="overdue"\s+checked', form)
    assert "Inbox test referral" in form, "case types by name"
    selected = page[page.index("Selected filters"):page.index('class="moj-filter__options"')]
    assert 'href="/?area=Northside&amp;due=overdue"' in selected, "removing the risk filter"
    assert "Clear filters" in selected


# --- taking work ----------------------------------------------------------------------------


def test_taking_a_stage_makes_it_mine(session, owner, practitioner, signed_in, frozen_clock):
    case = queued_case(session, owner)
    stage = factories.active_stage(case)
    page = page_of(signed_in, "?risk=not_set")
    assert 'name="csrf_token"' in sections(page)[1]
    assert f'name="stage_id" value="{stage.id}"' in page

    response = signed_in.post("/inbox/claim", data={"stage_id": stage.id,
                                                    "return_to": "/?risk=not_set"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/?risk=not_set"
    session.expire_all()
    assert session.get(StageInstance, stage.id).assignee_user_id == practitioner.id
    [entry] = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "stage_instances", AuditEntry.action == AuditAction.UPDATE,
        AuditEntry.actor_user_id == practitioner.id)).all()
    assert entry.case_id == case.id

    mine, queue = sections(page := page_of(signed_in, "?risk=not_set"))
    assert "You have taken “Report and risk screening” on " + case.reference in page
    assert stage_link(stage) in mine
    assert stage_link(stage) not in queue


def test_taking_an_action_makes_it_mine(session, owner, practitioner, signed_in, frozen_clock):
    action = action_for(session, queued_case(session, owner), owner, frozen_clock,
                        title="Check the records")
    response = signed_in.post("/inbox/claim", data={"action_id": action.id})
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    session.expire_all()
    assert session.get(Action, action.id).assigned_user_id == practitioner.id
    assert f"/actions/{action.id}" in sections(page_of(signed_in))[0]


def test_someone_else_took_it_first(session, owner, practitioner, signed_in, frozen_clock):
    case = queued_case(session, owner)
    stage = factories.active_stage(case)
    page_of(signed_in)  # the practitioner sees it in the queue...
    colleague = factories.user(session, owner)
    stage.assignee_user_id = colleague.id  # ...and meanwhile a colleague takes it
    session.commit()
    entries = session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))

    response = signed_in.post("/inbox/claim", data={"stage_id": stage.id,
                                                    "return_to": "/?risk=not_set"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert ('<p class="govuk-notification-banner__heading">Someone else took it first</p>'
            in page)
    assert "This work could not be taken" in page
    assert stage_link(stage) not in page, "the queue is shown as it is now"
    assert re.search(r'<option value="not_set"\s+selected', page), "the filters are kept"
    session.expire_all()
    assert session.get(StageInstance, stage.id).assignee_user_id == colleague.id
    newest = session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    assert newest == entries, "nothing written"


def test_another_agencys_work_cannot_be_taken(
    session, owner, other, signed_in, frozen_clock
):
    unseen = factories.active_stage(queued_case(session, other))
    assert signed_in.post("/inbox/claim", data={"stage_id": unseen.id}).status_code == 404
    shared = queued_case(session, other, share_with_agency_ids=[owner.id])
    seen = factories.active_stage(shared)
    response = signed_in.post("/inbox/claim", data={"stage_id": seen.id})
    assert response.status_code == 409
    assert "another agency" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(StageInstance, seen.id).assignee_user_id is None


@pytest.mark.parametrize("data", [{}, {"stage_id": "x"}, {"stage_id": "1", "action_id": "1"}])
def test_a_claim_names_one_stage_or_one_action(signed_in, data):
    assert signed_in.post("/inbox/claim", data=data).status_code == 400


def test_missing_work_is_not_found(signed_in):
    assert signed_in.post("/inbox/claim", data={"action_id": 999_999}).status_code == 404


def test_someone_who_only_audits_sees_the_queue_but_cannot_take_from_it(
    session, owner, client, frozen_clock
):
    stage = factories.active_stage(queued_case(session, owner))
    auditor = user_with_password(session, owner, Role.AUDITOR)
    sign_in(client, auditor)
    queue = sections(page_of(client))[1]
    assert stage_link(stage) in queue
    assert "Take this" not in queue
    assert client.post("/inbox/claim", data={"stage_id": stage.id}).status_code == 403


def test_a_return_address_off_the_site_is_ignored(session, owner, signed_in, frozen_clock):
    stage = factories.active_stage(queued_case(session, owner))
    response = signed_in.post("/inbox/claim", data={"stage_id": stage.id,
                                                    "return_to": "//evil.example/"})
    assert response.headers["Location"] == "/"


# --- long lists -----------------------------------------------------------------------------


def test_long_lists_are_paged_fifty_at_a_time(
    session, owner, practitioner, signed_in, frozen_clock
):
    case = queued_case(session, owner)
    for n in range(PAGE_SIZE + 4):
        action_for(session, case, owner, frozen_clock, days=2 + n, title=f"Task {n:02d}")
    # 54 actions and the report stage (due first).
    queue = sections(page_of(signed_in))[1]
    assert "My agency's queue (55)" in queue
    assert len(work_links(queue)) == PAGE_SIZE
    assert "Page 1 of 2" in queue
    assert 'class="govuk-pagination"' in queue
    assert 'href="/?queue_page=2#queue"' in queue
    assert "Task 00" in queue
    assert "Task 48" in queue
    assert "Task 49" not in queue

    second = sections(page_of(signed_in, "?queue_page=2"))[1]
    assert len(work_links(second)) == 5
    assert "Task 49" in second
    assert "Task 53" in second
    assert 'href="/#queue"' in second, "back to the first page"
    beyond = sections(page_of(signed_in, "?queue_page=9"))[1]
    assert "Page 2 of 2" in beyond, "a page past the end shows the last one"


def test_the_page_costs_the_same_queries_however_many_rows(
    session, connection, owner, practitioner, signed_in, frozen_clock, inbox_test_type
):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def queries_for_page() -> int:
        statements.clear()
        event.listen(connection, "before_cursor_execute", count)
        try:
            page_of(signed_in)
        finally:
            event.remove(connection, "before_cursor_execute", count)
        return len(statements)

    def add_work() -> None:
        colleague = factories.user(session, owner)
        for _ in range(3):
            led = factories.asb_case(session, owner, lead_officer_id=practitioner.id)
            action_for(session, led, owner, frozen_clock, user=practitioner)
            case = queued_case(session, owner)
            action_for(session, case, owner, frozen_clock)
            action_for(session, case, owner, frozen_clock, user=colleague)
            referral(session, owner)
        session.commit()

    add_work()
    few = queries_for_page()
    add_work()
    add_work()
    assert queries_for_page() == few


def test_each_inbox_page_is_audited_with_the_cases_it_showed(
    session, owner, practitioner, signed_in, frozen_clock
):
    case = queued_case(session, owner)
    page_of(signed_in, "?risk=not_set")
    [entry] = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.SEARCH, AuditEntry.actor_user_id == practitioner.id
    )).all()
    detail = json.loads(entry.changes)["detail"]
    assert detail["purpose"] == "task inbox"
    assert detail["shown"] == [case.id]
    assert detail["filters"] == {"risk": "not_set"}


def test_a_very_long_list_is_counted_only_so_far_and_lists_the_most_urgent(
    session, owner, practitioner, client, frozen_clock, monkeypatch
):
    """Counting stops past COUNT_LIMIT (1,000: twenty pages), so an agency with tens of
    thousands of queued items costs no more than one with a thousand."""
    monkeypatch.setattr("web.inbox.queries.COUNT_LIMIT", 3)
    case = queued_case(session, owner)
    for n in range(5):
        action_for(session, case, owner, frozen_clock, days=2, title=f"Late {n}")
    frozen_clock.advance(timedelta(days=3))
    sign_in(client, practitioner)
    queue = sections(page_of(client))[1]
    assert "My agency's queue (more than 3)" in queue
    assert "more than 3 overdue" in queue
    assert "Only the 3 most urgent are listed: use the filters" in queue
    assert work_links(queue) == [stage_link(factories.active_stage(case))] + [
        f"/actions/{a.id}" for a in session.scalars(
            select(Action).where(Action.case_id == case.id).order_by(Action.id).limit(2))
    ]
