"""The authorization matrix: every route, every method, every role, every relation to the
record, against the table in authorization_matrix.py (its docstring says how to add a row).

A route without a row fails here by name, so a new page cannot ship without someone
deciding who may reach it.
"""

from __future__ import annotations

import pytest

from storage.accounts.models import Role
from tests.web.security import authorization_matrix as matrix
from tests.web.security.authorization_matrix import Who
from tests.web.security.routes import address, endpoint_methods, rules
from tests.web.security.world import AGENCIES, enter

EVERYONE = [Who(None, None)] + [Who(agency, role) for agency in AGENCIES for role in Role]


def test_every_route_has_a_row_and_every_row_a_route():
    endpoints = {rule.endpoint for rule in rules()}
    missing = sorted(f"{r.endpoint} ({r.rule})" for r in rules() if r.endpoint not in matrix.MATRIX)
    stale = sorted(set(matrix.MATRIX) - endpoints)
    assert not missing, ("routes with no row in tests/web/security/authorization_matrix.py "
                         f"(add one, see its docstring): {', '.join(missing)}")
    assert not stale, f"rows for routes that no longer exist: {', '.join(stale)}"


def _fill(template: str, values: dict[str, object]) -> str:
    return template.format(**values)


def verdict(who: Who, method: str, response) -> str:
    """'allowed', 'denied' or what else it was (a failure whatever was expected)."""
    status = response.status_code
    if not who.signed_in and status in (301, 302, 303, 307) and \
            response.headers.get("Location", "").startswith("/sign-in"):
        return "denied"
    if status in (403, 404):
        return "denied"
    if 200 <= status < 400 or (method == "POST" and status in (400, 409)):
        return "allowed"
    return f"status {status}"


@pytest.mark.parametrize(("endpoint", "method", "rule"), endpoint_methods(),
                         ids=[f"{e}-{m}" for e, m, _ in endpoint_methods()])
def test_who_may_reach_the_route(endpoint, method, rule, world_app, world, rolled_back):
    row = matrix.row(endpoint)
    if row is None:
        pytest.fail(f"{endpoint} ({method} {rule}) has no row in "
                    "tests/web/security/authorization_matrix.py: add one (see its docstring)")
    policy = row.policy_for(method)
    if policy is None:
        pytest.fail(f"{endpoint} has no policy for {method} in authorization_matrix.py")
    values = row.url_values(world.url_values())
    url = address(world_app, endpoint, rule, values,
                  {k: _fill(v, values) for k, v in row.query.items()})
    form = {k: _fill(v, values) for k, v in row.form.items()}
    client = world_app.test_client()
    wrong, leaks = [], []
    for who in EVERYONE:
        user = world.users[(who.agency, who.role)] if who.signed_in else None
        enter(client, user)
        with rolled_back():
            response = client.open(url, method=method, data=form)
            # A streamed body (the audit CSV) is read, and its request ended, in the savepoint.
            response.get_data()
            response.close()
        expected = "allowed" if policy.allows(who) else "denied"
        got = verdict(who, method, response)
        if got != expected:
            wrong.append(f"{who}: expected {expected} ({policy!r}), got {got} "
                         f"(status {response.status_code})")
        if not who.signed_in or (who.agency == "C" and not who.wide):
            page = response.get_data(as_text=True)
            leaks += [f"{who}: the page contains {secret!r}" for secret in world.secrets
                      if secret in page]
    assert not wrong + leaks, f"{method} {url}:\n  " + "\n  ".join(wrong + leaks)


def test_the_leak_check_can_fail(world_app, world, rolled_back):
    """The searches and pages the matrix reads as agency C do show the SECRET texts to the
    owning agency, so their absence for C means something."""
    client = world_app.test_client()
    enter(client, world.users[("A", Role.PRACTITIONER)])
    for url in ("/search?q=ECRETMARKE", "/cases?q=ECRETMARKE", f"/cases/{world.case.reference}",
                f"/people/{world.person.id}", f"/meetings/{world.meeting.id}"):
        with rolled_back():
            response = client.get(url)
        assert response.status_code == 200, url
        assert "SECRETMARKER" in response.get_data(as_text=True), url


@pytest.fixture
def elsewhere(world_app, world, world_connection, rolled_back):
    """Agency C's own case (a stage, an action, a document) and meeting (an agenda item):
    records whose ids someone of agency A might put in an address under A's own records."""
    import io
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from casebridge import clock
    from storage.documents.services import attach_document
    from storage.meetings import services as meetings
    from tests import factories
    from tests.web.security.world import SYSTEM

    with Session(bind=world_connection, join_transaction_mode="create_savepoint",
                 expire_on_commit=False) as db:
        agency = world.agencies["C"]
        case = factories.asb_case(db, agency)
        action = factories.assign_action(db, SYSTEM, case_id=case.id, title="C's action",
                                         assigned_agency_id=agency.id,
                                         due_at=clock.now() + timedelta(days=3))
        document = attach_document(db, SYSTEM, world_app.extensions["casebridge.runtime"]
                                   .documents, case_id=case.id, filename="c.txt",
                                   content_type="text/plain", stream=io.BytesIO(b"C only\n"))
        meeting = meetings.create_meeting(
            db, SYSTEM, kind="marac", title="C's meeting", venue="C's office",
            scheduled_for=world.meeting.scheduled_for,
            chair_user_id=world.users[("C", Role.PANEL_MEMBER)].id, organiser_agency_id=agency.id)
        item = meetings.add_to_agenda(db, SYSTEM, meeting_id=meeting.id, case_id=case.id,
                                      reason="C's reason")
        db.commit()
        return {"case": case, "stage": factories.active_stage(case), "action": action,
                "document": document, "meeting": meeting, "item": item}


def test_a_record_of_another_agency_is_not_reached_under_ones_own(
        world_app, world, world_connection, elsewhere, rolled_back):
    """Ids of agency C's records put in addresses under agency A's own case and meeting (or
    in forms) are not found, and nothing is written but the audit of the refused attempts."""
    from sqlalchemy import func, select

    from storage.audit.models import AuditAction, AuditEntry
    from tests.web.security.world import fingerprint

    audit = ("audit_entries", "audit_chain_head")
    client = world_app.test_client()
    enter(client, world.users[("A", Role.MANAGER)])
    mine, meeting = world.case.reference, world.meeting.id
    last_seq = world_connection.scalar(select(func.max(AuditEntry.seq)))
    before = fingerprint(world_connection, skip=audit)
    attempts = [
        ("GET", f"/cases/{mine}/documents/{elsewhere['document'].id}", {}),
        ("GET", f"/cases/{mine}/stages/{elsewhere['stage'].id}", {}),
        ("POST", f"/cases/{mine}/stages/{elsewhere['stage'].id}", {"version": "1"}),
        ("GET", f"/meetings/{meeting}/items/{elsewhere['item'].id}", {}),
        ("POST", f"/meetings/{meeting}/items/{elsewhere['item'].id}/remove", {}),
        ("POST", f"/meetings/{meeting}/items/{elsewhere['item'].id}/move", {"direction": "up"}),
        ("POST", f"/meetings/{meeting}/items/{elsewhere['item'].id}",
         {"form": "minutes", "minutes": "x", "discussed": "yes"}),
        ("GET", f"/actions/{elsewhere['action'].id}", {}),
        ("POST", f"/actions/{elsewhere['action'].id}", {"intent": "accept"}),
        ("POST", "/inbox/claim", {"stage_id": str(elsewhere["stage"].id)}),
        ("POST", "/inbox/claim", {"action_id": str(elsewhere["action"].id)}),
    ]
    for method, url, form in attempts:
        response = client.open(url, method=method, data=form)
        assert response.status_code == 404, (method, url, response.status_code)
    # Forms that name another record by id or reference: refused next to the field.
    for url, form in [
        (f"/meetings/{meeting}/agenda", {"case_id": str(elsewhere["case"].id), "reason": "x"}),
        (f"/meetings/{meeting}/agenda", {"case_reference": elsewhere["case"].reference,
                                         "reason": "x"}),
        (f"/cases/{mine}/links", {"link-reference": elsewhere["case"].reference,
                                  "link-kind": "related"}),
    ]:
        response = client.post(url, data=form)
        assert response.status_code == 400, (url, response.status_code)
        assert elsewhere["case"].title not in response.get_data(as_text=True)
    assert fingerprint(world_connection, skip=audit) == before
    written = world_connection.scalars(select(AuditEntry.action).where(
        AuditEntry.seq > last_seq)).all()
    assert set(written) <= {AuditAction.ACCESS_DENIED}, written
