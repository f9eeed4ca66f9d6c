"""One case from first contact to a partner agency's completed action, in real Chromium with
CSRF and the CSP on: a police officer opens an ASB case for someone who is already a repeat
victim (typed with a slip of the keys), works the first two stages, gives the housing
provider an action; the housing officer finds it in their agency's queue, accepts it and
completes it; both agencies then see it done on the case."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from .conftest import LiveServer, screenshot
from .helpers import (
    case_reference,
    choose,
    expect_success,
    fill_date,
    make_partnership,
    make_repeat_victim,
    press,
    question,
    sign_in,
    sign_out,
    submit,
    summary_value,
    today,
    typo_of,
)

# The report stage: three points-scoring answers (8 points) screen the case as medium risk.
REPORT_ANSWERS = {
    "Has this happened before?": "Yes",
    "Has the victim reported it to anyone else (police, council, landlord)?": "Yes",
    "Does the victim feel targeted?": "Yes",
    "Is anyone in the household disabled or living with a long-term illness?": "No",
    "Does the victim or anyone else think it was motivated by hostility or prejudice?": "No",
    "Is it affecting the victim's health or day-to-day life?": "No",
    "Does the victim fear for their safety?": "No",
}
# The risk matrix: 22 points, the threshold for high risk (and a victim-service referral).
RISK_ANSWERS = {
    "Has the victim been targeted three or more times in six months?": "Yes",  # 4
    "Is the victim targeted because of who they are?": "No",
    "Has the victim been physically harmed or threatened with harm?": "Yes",  # 4
    "Does the victim live alone or feel isolated?": "Yes",  # 2
    "Does the victim have a disability or long-term illness?": "No",
    "Is the victim's mental health affected?": "Yes",  # 3
    "Are children in the household affected?": "No",
    "Is it affecting the victim's sleep, work or schooling?": "Yes",  # 2
    "Is the victim thinking of moving because of it?": "Yes",  # 2
    "Does the perpetrator live nearby or know where the victim lives?": "Yes",  # 2
    "Are alcohol or drugs a factor in the behaviour?": "Yes",  # 1
    "Does the victim lack family or friends to support them?": "Yes",  # 2
    "The assessor's professional judgement of the risk": "Medium",
}


def test_repeat_victim_case_from_first_contact_to_a_completed_partner_action(
    live_server: LiveServer, page: Page
) -> None:
    partnership = make_partnership(live_server)
    police, housing = partnership.police, partnership.housing
    victim = make_repeat_victim(live_server, police)

    # --- a police officer opens the case, and Casebridge recognises the repeat victim -------
    sign_in(page, live_server, police)
    page.get_by_role("link", name="New case", exact=True).click()
    expect(page.get_by_role("heading", name="Open a new case", level=1)).to_be_visible()
    choose(page, "What type of case is it?", "Anti-social behaviour")
    page.get_by_label("Title", exact=True).fill("Shouting and banging at the door at night")
    choose(page, "They are the", "Victim")
    page.get_by_label("First name", exact=True).fill(victim.given_name)
    page.get_by_label("Last name", exact=True).fill(typo_of(victim.family_name))
    fill_date(page, "Date of birth (optional)", victim.date_of_birth)
    page.get_by_label("Or describe the place").fill("The landing outside their flat")
    press(page, "Check for people already on Casebridge")

    match = page.locator(".govuk-summary-card", has=page.get_by_role(
        "heading", name=victim.full_name, exact=True))
    expect(match).to_be_visible()
    expect(match.get_by_text(re.compile(
        r"Repeat victim: 3 reports in the last 6 months across the partnership"))).to_be_visible()
    for reference in victim.case_references:
        expect(match.get_by_role("link", name=reference)).to_be_visible()
    # What was typed is kept.
    expect(page.get_by_label("Last name", exact=True)).to_have_value(typo_of(victim.family_name))
    screenshot(page, "new-case-matches")

    # (The visually hidden part of a label is its own box, so the name has a space before ":".)
    page.get_by_role("radio", name=re.compile(
        rf"^Use this person\s*: {re.escape(victim.full_name)}$")).check()
    press(page, "Create case")
    expect(page).to_have_url(re.compile(r"/cases/ASB-\d{4}-\d{6}$"))
    reference = case_reference(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect_success(page, f"Case {reference} opened")
    expect(summary_value(page, "Risk", "Summary")).to_have_text("Not assessed yet")
    # The case joined the victim's history instead of recording them twice.
    people = page.get_by_role("region", name="People and places", exact=True)
    expect(people.get_by_role("link", name=victim.full_name, exact=True)).to_have_attribute(
        "href", f"/people/{victim.person_id}")

    # --- the report and risk screening, with one answer missing the first time ---------------
    page.get_by_role("link", name="Complete this stage for Report and risk screening").click()
    expect(page.get_by_role("heading", name="Report and risk screening", level=1)).to_be_visible()
    yesterday = today(live_server) - timedelta(days=1)
    fill_date(page, "When did it happen (most recent incident)?", yesterday)
    choose(page, "What kind of anti-social behaviour is it?",
           "Personal: aimed at a person, family or group")
    for legend, answer in REPORT_ANSWERS.items():
        choose(page, legend, answer)
    press(page, "Submit answers")  # "What happened?" left empty
    missing = 'Enter an answer to "What happened?"'
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary.get_by_role("link")).to_have_text([missing])
    description = page.get_by_label("What happened?", exact=True)
    expect(description).to_have_accessible_description(re.compile(re.escape(missing)))
    expect(question(page, "Has this happened before?").get_by_label("Yes", exact=True)
           ).to_be_checked()  # what was answered is kept
    screenshot(page, "stage-form-error")
    description.fill("They bang on the door and shout abuse most nights after midnight.")
    press(page, "Submit answers")
    expect(page).to_have_url(re.compile(f"/cases/{reference}$"))
    expect_success(page, "Report and risk screening: your answers have been saved.")
    expect(summary_value(page, "Risk", "Summary")).to_have_text("Medium")
    expect(summary_value(page, "Report and risk screening", "Stages")).to_contain_text("Completed")

    # --- the victim risk assessment ----------------------------------------------------------
    page.get_by_role("link", name="Complete this stage for Victim risk assessment").click()
    expect(page.get_by_role("heading", name="Victim risk assessment", level=1)).to_be_visible()
    for legend, answer in RISK_ANSWERS.items():
        choose(page, legend, answer)
    screenshot(page, "stage-form")
    press(page, "Submit answers")
    expect(page).to_have_url(re.compile(f"/cases/{reference}$"))
    expect(summary_value(page, "Risk", "Summary")).to_have_text("High")
    expect(summary_value(page, "Victim risk assessment", "Stages")).to_contain_text("Completed")
    expect(summary_value(page, "Contact the victim", "Stages")).to_contain_text("In progress")

    # --- an action for the housing provider --------------------------------------------------
    action_title = "Visit the neighbours about the noise"
    due = today(live_server) + timedelta(days=14)
    actions = page.get_by_role("region", name="Actions", exact=True)
    actions.get_by_text("Give an agency an action").click()
    actions.get_by_label("What needs doing").fill(action_title)
    actions.get_by_label("Agency", exact=True).select_option(label=housing.agency_name)
    fill_date(page, "When it is due", due)
    submit(page, actions.get_by_role("button", name="Give the action"))
    expect_success(page, f"Action '{action_title}' given to {housing.agency_name}")
    row = page.get_by_role("region", name="Actions", exact=True).get_by_role(
        "row", name=re.compile(re.escape(action_title)))
    expect(row).to_contain_text(housing.agency_name)
    expect(row).to_contain_text("Open")
    sign_out(page)

    # --- the housing officer takes it from their agency's queue ------------------------------
    sign_in(page, live_server, housing)
    queue = page.get_by_role("region", name=re.compile(r"^My agency's queue \(\d+\)$"))
    expect(queue.get_by_role("link", name=reference)).to_be_visible()
    screenshot(page, "inbox")
    queue.get_by_role("link", name=action_title, exact=True).click()
    expect(page.get_by_role("heading", name=action_title, level=1)).to_be_visible()
    press(page, "Accept this action")
    expect_success(page, "You accepted this action")
    expect(summary_value(page, "Status")).to_have_text("Accepted")
    screenshot(page, "action")
    page.get_by_label("Outcome", exact=True).fill(
        "Visited both neighbours; the tenant agreed to keep the noise down after 11pm.")
    press(page, "Mark as done")
    expect_success(page, "The action is done")
    expect(summary_value(page, "Status")).to_have_text("Done")

    # The case is shared with housing now: they see the action done and in the chronology.
    page.get_by_role("link", name=reference).first.click()
    _shows_the_action_done(page, reference, action_title)
    sign_out(page)

    # --- and the police officer sees the same -------------------------------------------------
    sign_in(page, live_server, police)
    page.goto(f"{live_server.url}/cases/{reference}")
    _shows_the_action_done(page, reference, action_title)
    screenshot(page, "case-page")

    # The victim's profile counts this report too.
    people = page.get_by_role("region", name="People and places", exact=True)
    people.get_by_role("link", name=victim.full_name, exact=True).click()
    expect(page.get_by_role("heading", name=victim.full_name, level=1)).to_be_visible()
    expect(page.get_by_text(re.compile(r"Repeat victim: 4 reports in the last 6 months"))
           ).to_be_visible()
    screenshot(page, "person-profile")

    # And search finds them by the name as it really is.
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("Search for").fill(victim.family_name)
    press(page, "Search")
    people_found = page.get_by_role("table", name="People found")
    expect(people_found.get_by_role("link", name=victim.full_name, exact=True)
           ).to_have_attribute("href", f"/people/{victim.person_id}")
    cases_found = page.get_by_role("table", name="Cases found that you can open")
    for earlier in victim.case_references:  # their titles name the victim
        expect(cases_found.get_by_role("link", name=earlier, exact=True)).to_be_visible()
    screenshot(page, "search")


def _shows_the_action_done(page: Page, reference: str, action_title: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    row = page.get_by_role("region", name="Actions", exact=True).get_by_role(
        "row", name=re.compile(re.escape(action_title)))
    expect(row).to_contain_text("Done")
    chronology = page.get_by_role("region", name="Chronology", exact=True)
    expect(chronology.get_by_role("heading", name=f"Action '{action_title}' done")).to_be_visible()
    expect(chronology.get_by_role("heading", name=f"Action '{action_title}' accepted")
           ).to_be_visible()
