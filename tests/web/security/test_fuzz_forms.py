"""Every form the app draws, fuzzed with hypothesis: arbitrary text, unicode, very long and
empty values in each of its fields (names read from the rendered pages), posted with a valid
CSRF token by a user allowed to post it. Never a 500; and when the answer is an error (a form
sent back with messages, a conflict, a refusal) nothing was written.

The POST routes come from the url_map, so a new form is fuzzed as soon as a page draws it
(and the test fails if no page draws a form for a POST route). FUZZ_EXAMPLES sets
the examples per route (default 8: the whole file in about a minute on SQLite).
"""

from __future__ import annotations

import io
import os
import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session

from storage.accounts.models import Role
from storage.cases import workflow
from storage.cases.models import ActionStatus, Case
from tests.web.security import authorization_matrix as matrix
from tests.web.security.conftest import make_app
from tests.web.security.forms import Form, forms_on
from tests.web.security.routes import address, endpoint_methods
from tests.web.security.world import SYSTEM, enter, fingerprint, pending

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
POSTS = [(e, r) for e, m, r in endpoint_methods() if m == "POST"]
GETS = [(e, r) for e, m, r in endpoint_methods() if m == "GET"]
# A failed sign-in is kept on purpose (the attempt counts towards a lockout, and is audited).
# So is a wrong code at the code step.
WRITES_ON_PURPOSE = {"auth.sign_in": ("users", "audit_entries", "audit_chain_head"),
                     "auth.two_factor": ("users", "audit_entries", "audit_chain_head")}

ODD = ["", " ", "0", "-1", "1.5", "99999999999999999999999", "1e309", "NaN", "null", "None",
       "2026-02-30", "31/12/1899", "../../etc/passwd", "<script>alert(1)</script>",
       "' OR 1=1 --", "\u202e\u0645\u0631\u062d\u0628\u0627", "\ufeff", "🙂" * 20, "a\r\nb",
       "ASB-2026-000001", "%00", "{{7*7}}", "${7*7}", "\\", "true", "yes", "no"]
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300),
    st.sampled_from(ODD),
    st.integers().map(str),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "\U0001d518", " ", "9"]),
              st.integers(1_000, 200_000)),
)
MAGIC = [b"", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"PK\x03\x04", b"MZ",
         b"<html>"]
FILES = st.tuples(st.sampled_from(MAGIC), st.binary(max_size=2000),
                  st.text(max_size=60))


@pytest.fixture(scope="module")
def fuzz_app(engine, world_connection, tmp_path_factory):
    app = make_app(engine, world_connection, tmp_path_factory.mktemp("fuzz"))
    assert app.config.get("WTF_CSRF_ENABLED", True)
    return app


def poster(world):
    """The partnership administrator in the owning agency: allowed to post every form."""
    return world.users[("A", Role.PARTNERSHIP_ADMIN)]


# Forms the administrator is never shown, each drawn for (and posted by) someone else: the
# request form of a restricted case for a user who cannot see it, two-factor set-up for a
# user without it, the code step for someone half signed in. endpoint -> (page, who, how).
ELSEWHERE = {
    "access.ask": ("/cases/{restricted_reference}", ("B", Role.PRACTITIONER), enter),
    "account.enrol": ("/account/two-factor", ("A", Role.PRACTITIONER), enter),
    "auth.two_factor": ("/sign-in/code", "colleague", pending),
}


def posted_by(world, endpoint: str):
    """Who posts the endpoint's forms, and how they are signed in (None: signed out)."""
    if endpoint == "auth.sign_in":
        return None, enter
    if endpoint in ELSEWHERE:
        _, who, how = ELSEWHERE[endpoint]
        return (world.colleague if who == "colleague" else world.users[who]), how
    return poster(world), enter


def url_of(app, world, endpoint: str, rule: str) -> str:
    row = matrix.row(endpoint) or matrix.Row(matrix.SIGNED_IN)
    return address(app, endpoint, rule, row.url_values(world.url_values()))


def signed_in_with_token(app, client, user, how=enter) -> str:
    """Sign `user` in (or half in, with `how`=pending) and give the session a CSRF secret;
    the token a page would carry."""
    raw = secrets.token_hex(20)
    how(client, user)
    with client.session_transaction() as cookie:
        cookie["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def _close(session, world) -> None:
    workflow.respond_to_action(session, SYSTEM, action_id=world.action.id,
                               status=ActionStatus.DONE, outcome="Visited")
    workflow.close_case(session, SYSTEM, case_id=world.case.id, reason="Fuzzing reopen",
                        expected_version=session.get(Case, world.case.id).version)


def _pause(session, world) -> None:
    workflow.pause_case(session, SYSTEM, case_id=world.case.id, reason="Fuzzing resume",
                        expected_version=session.get(Case, world.case.id).version)


def _disable(session, world) -> None:
    from storage.accounts.models import User
    from storage.accounts.services import set_active

    set_active(session, SYSTEM, session.get(User, world.colleague.id), False)


# Forms some pages draw only in another state of the world (reopen: a closed case; resume:
# a paused one; enable: a disabled account). Each is crawled, and its forms are fuzzed in
# the state they were drawn in.
STATES = {"": None, "case closed": _close, "case paused": _pause, "user disabled": _disable}


def into_state(world_connection, world, state: str) -> None:
    change = STATES[state]
    if change is None:
        return
    with Session(bind=world_connection, join_transaction_mode="create_savepoint",
                 expire_on_commit=False) as session:
        change(session, world)
        session.commit()


@pytest.fixture(scope="module")
def drawn_forms(fuzz_app, world, world_connection) -> dict[str, list[Form]]:
    """Every POST form on every page the poster can open, by the path it posts to."""
    client = fuzz_app.test_client()
    found: dict[str, list[Form]] = {}
    for state in STATES:
        nested = world_connection.begin_nested()
        try:
            into_state(world_connection, world, state)
            for endpoint, rule in GETS:
                if endpoint in ("static", "govuk_assets", "health.healthz"):
                    continue
                signed_in_with_token(fuzz_app, client, poster(world))
                url = url_of(fuzz_app, world, endpoint, rule)
                response = client.get(url)
                if response.mimetype == "text/html":
                    for form in forms_on(url, response.get_data(as_text=True), state):
                        found.setdefault(form.action, []).append(form)
            enter(client, None)
            page = client.get("/sign-in").get_data(as_text=True)
            for form in forms_on("/sign-in", page, state):
                found.setdefault(form.action, []).append(form)
        finally:
            nested.rollback()
    values = world.url_values()
    for endpoint, (template, _, _) in ELSEWHERE.items():
        user, how = posted_by(world, endpoint)
        signed_in_with_token(fuzz_app, client, user, how)
        url = template.format(**values)
        nested = world_connection.begin_nested()
        try:
            response = client.get(url)
            for form in forms_on(url, response.get_data(as_text=True)):
                found.setdefault(form.action, []).append(form)
        finally:
            nested.rollback()
    return found


@pytest.mark.parametrize(("endpoint", "rule"), POSTS, ids=[e for e, _ in POSTS])
def test_no_form_crashes_or_half_writes(endpoint, rule, fuzz_app, world, world_connection,
                                        drawn_forms):
    url = url_of(fuzz_app, world, endpoint, rule)
    forms = drawn_forms.get(url)
    assert forms, (f"no page draws a form that posts to {endpoint} ({url}); "
                   f"forms found: {sorted(drawn_forms)}")
    client = fuzz_app.test_client()
    user, how = posted_by(world, endpoint)
    skip = WRITES_ON_PURPOSE.get(endpoint, ())

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def post_anything(data) -> None:
        form = data.draw(st.sampled_from(forms), label="form")
        body: dict[str, object] = {}
        for name, values in form.fields.items():
            if name == "csrf_token":
                continue
            choices = [st.sampled_from(values)] if values else []
            body[name] = data.draw(st.one_of(*choices, TEXT), label=name)
        for name in form.files:
            magic, rest, filename = data.draw(FILES, label=name)
            body[name] = (io.BytesIO(magic + rest), filename)
        body["csrf_token"] = signed_in_with_token(fuzz_app, client, user, how)
        nested = world_connection.begin_nested()
        try:
            into_state(world_connection, world, form.state)
            before = fingerprint(world_connection, skip=skip)
            response = client.post(url, data=body, content_type="multipart/form-data")
            page = response.get_data(as_text=True)
            assert response.status_code < 500, f"{response.status_code} for {body!r:.2000}"
            assert "Your form expired" not in page, "the CSRF token was refused"
            if response.status_code >= 400:
                assert fingerprint(world_connection, skip=skip) == before, (
                    f"answered {response.status_code} but wrote: {body!r:.2000}")
        finally:
            nested.rollback()

    post_anything()


@pytest.fixture(scope="module")
def query_names(fuzz_app, world, world_connection) -> dict[str, set[str]]:
    """For each page, the query arguments its search and filter forms and its links send."""
    client = fuzz_app.test_client()
    names: dict[str, set[str]] = {}
    nested = world_connection.begin_nested()
    try:
        for endpoint, rule in GETS:
            signed_in_with_token(fuzz_app, client, poster(world))
            url = url_of(fuzz_app, world, endpoint, rule)
            response = client.get(url)
            if response.mimetype == "text/html":
                for form in forms_on(url, response.get_data(as_text=True), method="get"):
                    names.setdefault(form.action, set()).update(form.fields)
    finally:
        nested.rollback()
    return names


PAGES = [(e, r) for e, r in GETS if e not in ("static", "govuk_assets", "health.healthz")]


@pytest.mark.parametrize(("endpoint", "rule"), PAGES, ids=[e for e, _ in PAGES])
def test_no_query_crashes_a_page(endpoint, rule, fuzz_app, world, world_connection,
                                 query_names):
    """Search boxes, filters and page numbers are typed or edited in the address bar too."""
    url = url_of(fuzz_app, world, endpoint, rule)
    names = sorted(query_names.get(url, set()) | {"page", "next"})
    client = fuzz_app.test_client()
    signed_in_with_token(fuzz_app, client, poster(world))

    @settings(max_examples=max(2, EXAMPLES // 2), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(query=st.dictionaries(st.sampled_from(names), TEXT, max_size=len(names)))
    def open_with(query) -> None:
        nested = world_connection.begin_nested()
        try:
            response = client.get(url, query_string=query)
            assert response.status_code < 500, f"{response.status_code} for {query!r:.2000}"
        finally:
            nested.rollback()

    open_with()


def test_a_very_long_reference_filter_finds_nothing_rather_than_failing(fuzz_app, world):
    """Found by the query fuzzing: SQLite refuses a LIKE pattern of 50,000 bytes."""
    client = fuzz_app.test_client()
    signed_in_with_token(fuzz_app, client, poster(world))
    response = client.get("/cases", query_string={"reference": "\U0001d518" * 12500})
    assert response.status_code == 200
    assert world.case.reference not in response.get_data(as_text=True)
