"""An ASB case from report to closure, in real Chromium with CSRF and the CSP on (issue 5):
a police officer opens the case for a new victim on the "New case" page and works every
stage the workflow routes it through, each form filled in as a person would; at the
action plan the housing provider is given an action, which their officer accepts and
completes from their agency's queue; the problem is resolved, the case closes through the
satisfaction survey, and the closed case shows every stage done and the closure on its
chronology."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from playwright.sync_api import Locator, Page, expect

from .conftest import LiveServer, check_accessibility, screenshot
from .helpers import (
    Account,
    case_reference,
    choose,
    complete_stage,
    expect_success,
    fill_date,
    make_partnership,
    press,
    sign_in,
    sign_out,
    stage_tag,
    submit,
    summary_value,
    today,
    unknown_name,
)

# The report stage: 8 screening points, medium risk; not hate-motivated (no referral).
REPORT = {
    "What happened?": "A group gathers on the landing outside the flat most evenings, "
                      "drinking, shouting and kicking the door.",
    "What kind of anti-social behaviour is it?": "Personal: aimed at a person, family or group",
    "Has this happened before?": "Yes",  # 3
    "Has the victim reported it to anyone else (police, council, landlord)?": "Yes",  # 2
    "Does the victim feel targeted?": "Yes",  # 3
    "Is anyone in the household disabled or living with a long-term illness?": "No",
    "Does the victim or anyone else think it was motivated by hostility or prejudice?": "No",
    "Is it affecting the victim's health or day-to-day life?": "No",
    "Does the victim fear for their safety?": "No",
}
# The risk matrix: 14 points, medium risk (12 to 21), under the 22 that refers on.
RISK = {
    "Has the victim been targeted three or more times in six months?": "Yes",  # 4
    "Is the victim targeted because of who they are?": "No",
    "Has the victim been physically harmed or threatened with harm?": "No",
    "Does the victim live alone or feel isolated?": "Yes",  # 2
    "Does the victim have a disability or long-term illness?": "No",
    "Is the victim's mental health affected?": "Yes",  # 3
    "Are children in the household affected?": "No",
    "Is it affecting the victim's sleep, work or schooling?": "Yes",  # 2
    "Is the victim thinking of moving because of it?": "No",
    "Does the perpetrator live nearby or know where the victim lives?": "Yes",  # 2
    "Are alcohol or drugs a factor in the behaviour?": "Yes",  # 1
    "Does the victim lack family or friends to support them?": "No",
    "The assessor's professional judgement of the risk": "Medium",
}
# "When?" is added in the test: a moment yesterday, where the partnership is.
CONTACT = {
    "Did you speak to the victim?": "Yes",
    "How?": "Visit",
    "How many attempts to contact have been made?": "1",
    "Does the victim agree to their information being shared with partner agencies?": "Yes",
    "Would the victim like to be referred to victim support?": "No",
    "What did you agree with the victim?": "To keep a diary of each evening it happens and "
                                           "to call 101 while it is going on.",
}
SCAN = {
    "What is the problem, where and when does it happen?":
        "Young adults gather on the third-floor landing between 8pm and midnight, most "
        "evenings; they drink, shout and kick the victim's door.",
    "Is the location a known hot spot?": "Yes",
    "Are the perpetrators known?": "Yes",
    "Are other people affected by the same behaviour?": "Don't know",
}
ANALYSE = {
    "Victim: why are they affected, what would help them?":
        "Their flat is nearest the stairwell; a working door entry system would help most.",
    "Offender: who, and what drives the behaviour?":
        "Two tenants' visitors, with nowhere else to meet in the evening.",
    "Location: what about the place lets it happen?":
        "The communal door's lock is broken, so anyone can reach the landing.",
    "Which partners are needed?": ("Police", "Housing provider"),
}
PLAN = {
    "What will each partner do, and by when?":
        "Housing: repair the communal door and warn the tenants within two weeks. Police: "
        "patrol the block in the evenings meanwhile.",
    "Which tools and powers are being used?": ("Warning letter",),
    "Has the victim been told about the plan and agreed it?": "Yes",
}
ASSESS = {
    "Has the problem been resolved?": "Yes, resolved",
    "What does the victim say?": "Nobody has gathered on the landing for three weeks; "
                                 "they are sleeping again.",
}
# "Problem resolved" is one of the reasons that lead to the satisfaction survey.
CLOSURE = {
    "Why is the case closing?": "Problem resolved",
    "Has the closure letter been sent?": "Yes",
    "Summary for the record": "Door repaired and tenants warned; no reports since.",
}
SURVEY = {
    "Did the victim take part?": "Yes",
    "How satisfied were they with how their case was handled?": "Satisfied",
    "How satisfied were they with being kept informed?": "Very satisfied",
    "Do they feel safer now?": "Yes",
    "Anything else they said": "Glad the door was fixed so quickly.",
}
# Every stage the case goes through, in order; the letter after three failed attempts to
# reach the victim is the only one it does not need.
ROUTE = ["Report and risk screening", "Victim risk assessment", "Contact the victim",
         "Scan: describe the problem", "Analyse: understand the causes",
         "Respond: action plan", "Assess: has it worked?", "Closure and closure letter",
         "Satisfaction survey"]
NOT_NEEDED = "Letter after unsuccessful contact"
ACTION_TITLE = "Repair the communal door and warn the tenants"
ACTION_OUTCOME = "Door lock replaced; both tenants given warning letters about their visitors."


def test_asb_case_from_report_to_closure_with_a_partner_doing_its_part(
    live_server: LiveServer, page: Page
) -> None:
    partnership = make_partnership(live_server)
    police, housing = partnership.police, partnership.housing
    given, family = unknown_name(live_server)

    # --- the police officer opens the case for someone new to Casebridge --------------------
    sign_in(page, live_server, police)
    page.get_by_role("link", name="New case", exact=True).click()
    expect(page.get_by_role("heading", name="Open a new case", level=1)).to_be_visible()
    choose(page, "What type of case is it?", "Anti-social behaviour")
    page.get_by_label("Title", exact=True).fill("Group gathering and kicking the door at night")
    choose(page, "They are the", "Victim")
    page.get_by_label("First name", exact=True).fill(given)
    page.get_by_label("Last name", exact=True).fill(family)
    page.get_by_label("Or describe the place").fill("The third-floor landing outside their flat")
    press(page, "Check for people already on Casebridge")
    expect(page.get_by_text("Nobody on Casebridge matches the name")).to_be_visible()
    press(page, "Create case")
    expect(page).to_have_url(re.compile(r"/cases/ASB-\d{4}-\d{6}$"))
    reference = case_reference(page)
    expect_success(page, f"Case {reference} opened")
    expect(summary_value(page, "Status", "Summary")).to_have_text(re.compile(r"^\s*Open"))
    expect(stage_tag(page, ROUTE[0])).to_have_text("In progress")

    # --- report, risk and first contact with the victim --------------------------------------
    complete_stage(page, "Report and risk screening",
                   REPORT | {"When did it happen (most recent incident)?":
                             today(live_server) - timedelta(days=2)})
    expect(summary_value(page, "Risk", "Summary")).to_have_text("Medium")
    complete_stage(page, "Victim risk assessment", RISK)
    expect(summary_value(page, "Risk", "Summary")).to_have_text("Medium")
    yesterday = datetime.combine(today(live_server) - timedelta(days=1), time(14, 30))
    complete_stage(page, "Contact the victim", CONTACT | {"When?": yesterday})
    expect(stage_tag(page, "Scan: describe the problem")).to_have_text("In progress")

    # --- scan and analyse ---------------------------------------------------------------------
    complete_stage(page, "Scan: describe the problem", SCAN)
    complete_stage(page, "Analyse: understand the causes", ANALYSE)
    expect(stage_tag(page, "Respond: action plan")).to_have_text("In progress")

    # --- respond: the housing provider gets an action, and the plan is recorded --------------
    _give_action(page, housing, due=today(live_server) + timedelta(days=14))
    complete_stage(page, "Respond: action plan", PLAN)
    expect(stage_tag(page, "Assess: has it worked?")).to_have_text("In progress")
    sign_out(page)

    # --- the housing officer does their part from their agency's queue ----------------------
    sign_in(page, live_server, housing)
    queue = page.get_by_role("region", name=re.compile(r"^My agency's queue \(\d+\)$"))
    expect(queue.get_by_role("link", name=reference)).to_be_visible()
    queue.get_by_role("link", name=ACTION_TITLE, exact=True).click()
    expect(page.get_by_role("heading", name=ACTION_TITLE, level=1)).to_be_visible()
    press(page, "Accept this action")
    expect_success(page, "You accepted this action")
    page.get_by_label("Outcome", exact=True).fill(ACTION_OUTCOME)
    press(page, "Mark as done")
    expect_success(page, "The action is done")
    expect(summary_value(page, "Status")).to_have_text("Done")
    sign_out(page)

    # --- the police officer assesses, closes the case and records the survey ----------------
    sign_in(page, live_server, police)
    page.goto(f"{live_server.url}/cases/{reference}")
    expect(_action_row(page)).to_contain_text("Done")  # the police see housing's part
    complete_stage(page, "Assess: has it worked?", ASSESS)
    complete_stage(page, "Closure and closure letter", CLOSURE)
    expect(stage_tag(page, "Satisfaction survey")).to_have_text("In progress")
    expect(summary_value(page, "Status", "Summary")).to_have_text(re.compile(r"^\s*Open"))
    complete_stage(page, "Satisfaction survey", SURVEY)

    # --- the closed case -----------------------------------------------------------------------
    expect(summary_value(page, "Status", "Summary")).to_have_text("Closed")
    expect(summary_value(page, "Closed", "Summary")).to_contain_text(
        "Closed after the satisfaction survey")
    for stage in ROUTE:
        expect(stage_tag(page, stage)).to_have_text("Completed")
    expect(stage_tag(page, NOT_NEEDED)).to_have_text("Skipped")
    stages = page.get_by_role("region", name="Stages", exact=True)
    expect(stages.get_by_text("In progress", exact=True)).to_have_count(0)
    expect(stages.get_by_role("link", name=re.compile(r"^Complete this stage"))).to_have_count(0)
    expect(_action_row(page)).to_contain_text("Done")
    # Closed, so nobody can give an action or fill in a stage any more.
    expect(page.get_by_text("Give an agency an action")).to_have_count(0)

    chronology = page.get_by_role("region", name="Chronology", exact=True)
    closed = chronology.locator(".moj-timeline__item").first  # newest first
    expect(closed.get_by_role("heading")).to_have_text("Case closed")
    expect(closed).to_contain_text("Closed after the satisfaction survey")
    expect(closed).to_contain_text(f"by {police.name} ({police.agency_name})")
    expect(chronology.get_by_role("heading", name="Stage 'Satisfaction survey' completed")
           ).to_be_visible()
    screenshot(page, "case-closed")
    check_accessibility(page, "closed case")


def _give_action(page: Page, housing: Account, *, due: date) -> None:
    actions = page.get_by_role("region", name="Actions", exact=True)
    actions.get_by_text("Give an agency an action").click()
    actions.get_by_label("What needs doing").fill(ACTION_TITLE)
    actions.get_by_label("Agency", exact=True).select_option(label=housing.agency_name)
    fill_date(page, "When it is due", due)
    submit(page, actions.get_by_role("button", name="Give the action"))
    expect_success(page, f"Action '{ACTION_TITLE}' given to {housing.agency_name}")
    expect(_action_row(page)).to_contain_text("Open")


def _action_row(page: Page) -> Locator:
    return page.get_by_role("region", name="Actions", exact=True).get_by_role(
        "row", name=re.compile(re.escape(ACTION_TITLE)))
