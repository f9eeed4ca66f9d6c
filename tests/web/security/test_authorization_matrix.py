"""The authorization matrix: every route, every method, every role, every relation to the
record, against the table in authorization_matrix.py (its docstring says how to add a row).

A route without a row fails here by name, so a new page cannot ship without someone
deciding who may reach it.
"""

from __future__ import annotations

import pytest
from flask import url_for

from storage.accounts.models import Role
from tests.web.security import authorization_matrix as matrix
from tests.web.security.authorization_matrix import Who
from tests.web.security.routes import endpoint_methods, rules
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
    values = world.url_values() | dict(row.values)
    url_rule = next(r for r in rules() if r.endpoint == endpoint and r.rule == rule)
    with world_app.test_request_context():
        url = url_for(endpoint, **{name: values[name] for name in url_rule.arguments},
                      **{k: _fill(v, values) for k, v in row.query.items()})
    form = {k: _fill(v, values) for k, v in row.form.items()}
    client = world_app.test_client()
    wrong, leaks = [], []
    for who in EVERYONE:
        user = world.users[(who.agency, who.role)] if who.signed_in else None
        enter(client, user)
        with rolled_back():
            response = client.open(url, method=method, data=form)
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
