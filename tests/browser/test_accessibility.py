"""axe-core on every page a practitioner or panel member uses, in each state that draws
something different (empty, with matches, with errors), in real Chromium.

The pages are reached the way a person reaches them (links, buttons, forms) wherever that is
how they are reached, so each check runs on the page as it really is after a request. Every
page is checked before the test fails, so one run lists every page with a serious or
critical violation, its rule and its elements.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from storage.accounts.models import Role
from storage.agencies.models import Agency
from storage.cases.models import Case
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue

from .conftest import LiveServer, check_accessibility, screenshot
from .helpers import (
    Account,
    choose,
    fill_date,
    make_account,
    make_partnership,
    make_workload,
    press,
    seeding,
    sign_in,
    sign_out,
    submit,
    today,
    typo_of,
)


class Checker:
    """Runs axe on each page and keeps every failure, so the test reports them all."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.checked: list[str] = []
        self.failures: list[str] = []

    def __call__(self, name: str, heading: str | re.Pattern[str], *, errors: bool = False
                 ) -> None:
        # First make sure this is the page meant (not an error page), then check it.
        expect(self.page.get_by_role("heading", level=1)).to_have_text(heading)
        if errors:
            expect(self.page.get_by_role("alert").filter(has_text="There is a problem")
                   ).to_be_visible()
        self.checked.append(name)
        try:
            check_accessibility(self.page, name)
        except AssertionError as failure:  # keep axe's list, not pytest's restatement of it
            self.failures.append(str(failure).split("\nassert ")[0])

    def assert_none_failed(self) -> None:
        if self.failures:
            pytest.fail(f"{len(self.failures)} of {len(self.checked)} pages have serious or "
                        "critical accessibility violations:\n" + "\n".join(self.failures),
                        pytrace=False)


def test_every_page_is_accessible(live_server: LiveServer, page: Page) -> None:
    partnership = make_partnership(live_server, Role.PRACTITIONER, Role.PANEL_MEMBER,
                                   Role.MANAGER)
    work = make_workload(live_server, partnership)
    victim, url = work.victim, live_server.url
    check = Checker(page)

    # --- signing in ------------------------------------------------------------------------
    page.goto(f"{url}/sign-in")
    check("sign in", "Sign in to Casebridge")
    page.get_by_label("E-mail address").fill(partnership.police.email)
    page.get_by_label("Password", exact=True).fill("not the password at all")
    press(page, "Sign in")
    check("sign in with an error", "Sign in to Casebridge", errors=True)
    sign_in(page, live_server, partnership.police)
    check("inbox", "Your work")

    # --- opening a case ------------------------------------------------------------------
    page.get_by_role("link", name="New case", exact=True).click()
    check("new case", "Open a new case")
    press(page, "Create case")
    check("new case with errors", "Open a new case", errors=True)
    page.get_by_label("First name", exact=True).fill(victim.given_name)
    page.get_by_label("Last name", exact=True).fill(typo_of(victim.family_name))
    fill_date(page, "Date of birth (optional)", victim.date_of_birth)
    press(page, "Check for people already on Casebridge")
    expect(page.get_by_text(re.compile(r"Repeat victim: 3 reports"))).to_be_visible()
    check("new case after the check, with a repeat victim", "Open a new case")
    page.get_by_label("First name", exact=True).fill("Nobody")
    page.get_by_label("Last name", exact=True).fill("Matcheshere")
    fill_date(page, "Date of birth (optional)", today(live_server) - timedelta(days=365 * 30))
    press(page, "Check again")
    expect(page.get_by_text(re.compile(r"Nobody on Casebridge matches"))).to_be_visible()
    check("new case after the check, nobody found", "Open a new case")

    # --- the case page and its stage forms ----------------------------------------------------
    page.goto(f"{url}/cases/{work.new_case}")
    check("case page", re.compile(re.escape(work.new_case)))
    actions = page.get_by_role("region", name="Actions", exact=True)
    actions.get_by_text("Give an agency an action").click()
    submit(page, actions.get_by_role("button", name="Give the action"))
    check("case page with an error in a form", re.compile(re.escape(work.new_case)), errors=True)

    page.get_by_role("link", name="Complete this stage for Report and risk screening").click()
    check("report stage form", "Report and risk screening")
    press(page, "Submit answers")
    check("report stage form with errors", "Report and risk screening", errors=True)

    page.goto(f"{url}/cases/{work.screened_case}")
    page.get_by_role("link", name="View answers for Report and risk screening").click()
    check("completed stage: its answers", "Report and risk screening")
    page.get_by_role("link", name="Back to the case").first.click()
    page.get_by_role("link", name="Complete this stage for Victim risk assessment").click()
    check("risk assessment stage form", "Victim risk assessment")
    choose(page, "Has the victim been targeted three or more times in six months?", "Yes")
    choose(page, "The assessor's professional judgement of the risk", "High")  # reveals a box
    press(page, "Submit answers")
    check("risk assessment stage form with errors", "Victim risk assessment", errors=True)

    # --- an action ------------------------------------------------------------------------------
    page.goto(f"{url}/cases/{work.screened_case}")
    page.get_by_role("region", name="Actions", exact=True).get_by_role(
        "link", name=work.action_title).click()
    check("action", work.action_title)
    press(page, "Mark as done")
    check("action with an error", work.action_title, errors=True)

    # --- finding things ------------------------------------------------------------------------
    page.get_by_role("link", name="Cases", exact=True).click()
    check("case list", "Cases")
    page.get_by_role("link", name="Search", exact=True).click()
    check("search", "Search")
    page.get_by_label("Search for").fill(victim.family_name)
    press(page, "Search")
    expect(page.get_by_role("table", name="People found")).to_be_visible()
    check("search with results", "Search")
    page.get_by_role("table", name="People found").get_by_role(
        "link", name=victim.full_name, exact=True).click()
    check("person profile", victim.full_name)
    page.goto(f"{url}/locations/{victim.home_id}")
    check("location profile", re.compile(r"\S"))

    # --- panels and meetings ----------------------------------------------------------------------
    page.get_by_role("link", name="Meetings", exact=True).click()
    check("meetings", "Meetings")
    page.get_by_role("button", name="Plan a meeting").click()
    check("new meeting", "Plan a meeting")
    press(page, "Plan the meeting")
    check("new meeting with errors", "Plan a meeting", errors=True)
    page.goto(f"{url}/meetings")
    page.get_by_role("link", name=work.meeting_title).click()
    check("meeting", work.meeting_title)
    screenshot(page, "meeting")
    page.get_by_role("link", name=f"Minutes and actions for {work.screened_case}").click()
    check("agenda item", re.compile(re.escape(work.screened_case)))

    # --- the same work, seen by the agency that must do the action --------------------------
    sign_out(page)
    sign_in(page, live_server, partnership.housing)
    queue = page.get_by_role("region", name=re.compile(r"^My agency's queue"))
    expect(queue.get_by_role("link", name=work.action_title)).to_be_visible()
    check("inbox with the agency's queue", "Your work")
    queue.get_by_role("link", name=work.action_title).click()
    expect(page.get_by_role("button", name="Accept this action")).to_be_visible()
    check("action, for the agency that must do it", work.action_title)
    page.goto(f"{url}/meetings/{work.meeting_id}")
    check("meeting, for an agency attending", work.meeting_title)

    # --- the engine's admin page, for a partnership administrator -----------------------------
    sign_out(page)
    admin = _administrator_with_a_failed_effect(live_server, work.screened_case)
    sign_in(page, live_server, admin)
    page.goto(f"{url}/admin/engine")
    expect(page.get_by_role("button", name="Try all failed again")).to_be_visible()
    check("automated work (admin)", "Automated work")
    page.goto(f"{url}/admin/rules")
    check("minimum standards (admin)", "Minimum standards")
    page.get_by_role("button", name="Try the rules").click()
    check("minimum standards dry run (admin)", "Minimum standards")

    sign_out(page)
    check.assert_none_failed()


def _administrator_with_a_failed_effect(live_server: LiveServer, reference: str) -> Account:
    with seeding(live_server) as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"a11y-failed:{reference}",
                case_id=case.id, payload={"template": "stage_assigned", "recipient": {}})
        session.flush()
        session.execute(update(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"a11y-failed:{reference}").values(
            status=OutboxStatus.FAILED, attempts=5, last_error="Undeliverable: no recipient"))
        agency = session.get(Agency, case.owning_agency_id)
        return make_account(session, agency, Role.PARTNERSHIP_ADMIN)
