"""Safe rendering: what people type comes back as text, never as markup.

Two ways in: (1) a world whose every free-text field (case titles and summaries, notes,
actions, a document's name, a person's known-as name, an address, a meeting's title,
attendee and agenda reason) holds a piece of HTML, and every page a user can open is
read for it; (2) every free-text box of every form the pages draw is posted with it, and
the page that answers (saved, or sent back with the message) is read for it.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy.orm import Session

from storage.accounts.models import Role
from tests.web.security.forms import Form, forms_on
from tests.web.security.routes import endpoint_methods
from tests.web.security.test_hardening import url_of
from tests.web.security.world import World, build, enter

PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>"\'><b>bold</b>'
RAW = ("<script>alert", "<img src=x", "onerror=alert(1)>", "<b>bold</b>")
DOWNLOADS = ("text/csv", "application/json", "application/pdf", "text/plain")
GETS = [(e, r) for e, m, r in endpoint_methods() if m == "GET"
        and e not in ("static", "govuk_assets", "health.healthz")]


@pytest.fixture(scope="module")
def world(world_app, world_connection) -> World:
    session = Session(bind=world_connection, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    try:
        return build(session, world_app.extensions["casebridge.runtime"].documents,
                     marker=PAYLOAD)
    finally:
        session.close()


def unescaped(page: str) -> list[str]:
    return [raw for raw in RAW if raw in page]


@pytest.mark.parametrize(("endpoint", "rule"), GETS, ids=[e for e, _ in GETS])
def test_typed_html_is_shown_as_text_on_every_page(endpoint, rule, world_app, world,
                                                   rolled_back):
    client = world_app.test_client()
    for who in (("A", Role.PARTNERSHIP_ADMIN), ("B", Role.PRACTITIONER)):
        enter(client, world.users[who])
        url = url_of(world_app, world, endpoint, rule)
        with rolled_back():
            response = client.get(url)
            page = response.get_data(as_text=True)  # a streamed body: read in the savepoint
            response.close()
        if response.mimetype != "text/html" and response.status_code == 200:
            # A download (a document, the audit CSV, a subject access export) carries what
            # was typed as it was typed; what keeps it from running is that no browser
            # renders it.
            assert response.mimetype in DOWNLOADS, f"{url}: {response.mimetype}"
            assert response.headers.get("Content-Disposition", "").startswith("attachment")
            assert response.headers.get("X-Content-Type-Options") == "nosniff"
            continue
        assert not unescaped(page), f"{url} as {who}: {unescaped(page)}"


def test_the_pages_do_show_it_escaped(world_app, world, rolled_back):
    """So the check above reads pages that really carry what was typed."""
    client = world_app.test_client()
    enter(client, world.users[("A", Role.PARTNERSHIP_ADMIN)])
    escaped = html.escape("<script>alert(", quote=False)
    for url in (f"/cases/{world.case.reference}", f"/actions/{world.action.id}",
                f"/meetings/{world.meeting.id}", f"/people/{world.person.id}",
                f"/locations/{world.location.id}", "/cases"):
        page = client.get(url).get_data(as_text=True)
        assert escaped in page, url


def test_every_free_text_box_posted_with_html_comes_back_escaped(world_app, world,
                                                                 rolled_back):
    client = world_app.test_client()
    admin = world.users[("A", Role.PARTNERSHIP_ADMIN)]
    forms: list[Form] = []
    for endpoint, rule in GETS:
        enter(client, admin)
        url = url_of(world_app, world, endpoint, rule)
        response = client.get(url)
        if response.mimetype == "text/html":
            forms += forms_on(url, response.get_data(as_text=True))
    posted = 0
    for form in forms:
        for name in form.texts:
            body = {field: (values[0] if values else "") for field, values in form.fields.items()}
            body[name] = PAYLOAD
            enter(client, None if form.action == "/sign-in" else admin)
            with rolled_back():
                response = client.post(form.action, data=body, follow_redirects=True)
                page = response.get_data(as_text=True)
            assert response.status_code < 500, (form.action, name)
            assert not unescaped(page), f"{form.action} {name}: {unescaped(page)}"
            posted += 1
    assert posted >= 20, f"only {posted} free-text boxes found"
