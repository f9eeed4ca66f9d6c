"""The engine's admin page: partnership administrators see the backlog and failed effects
(ids, kinds, errors; no payloads) and can try them again, audited; nobody else can."""

from __future__ import annotations

from sqlalchemy import select

from casebridge import clock
from storage.accounts.models import Role
from storage.audit.models import AuditEntry
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue
from tests import factories
from tests.web.conftest import sign_in, user_with_password


def _failed(session, case, key: str, error: str) -> OutboxMessage:
    row = enqueue(session, kind=EffectKind.EMAIL, idempotency_key=key, case_id=case.id,
                  payload={"template": "stage_assigned", "recipient": {"address": "x@y.test"}})
    session.flush()
    row.status, row.attempts, row.last_error = OutboxStatus.FAILED, 5, error
    session.commit()
    return row


def _admin(client, session, owner):
    admin = user_with_password(session, owner, Role.PARTNERSHIP_ADMIN)
    assert sign_in(client, admin).status_code == 302
    return admin


def test_an_administrator_sees_failed_effects_without_their_payloads(client, session, owner):
    case = factories.asb_case(session, owner)
    row = _failed(session, case, "admin:1", "SMTPRecipientsRefused: <address removed>")
    _admin(client, session, owner)
    page = client.get("/admin/engine")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Failed (1)" in text
    assert f"Email {row.id}" in text
    assert case.reference in text
    assert "SMTPRecipientsRefused" in text
    assert "x@y.test" not in text  # the payload's recipient stays out of the page


def test_try_again_queues_the_effect_and_is_audited(client, session, owner):
    case = factories.asb_case(session, owner)
    row = _failed(session, case, "admin:2", "TimeoutError")
    admin = _admin(client, session, owner)
    response = client.post("/admin/engine/retry", data={"message_id": str(row.id)})
    assert response.status_code == 302
    session.expire_all()
    again = session.get(OutboxMessage, row.id)
    assert (again.status, again.attempts) == (OutboxStatus.PENDING, 0)
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "outbox", AuditEntry.entity_id == str(row.id))).one()
    assert entry.actor_user_id == admin.id
    assert '"retried":1' in entry.changes
    assert "1 effect queued to be tried again" in client.get("/admin/engine").get_data(
        as_text=True)


def test_try_all_failed_again(client, session, owner):
    case = factories.asb_case(session, owner)
    rows = [_failed(session, case, f"admin:all:{n}", "TimeoutError") for n in range(3)]
    _admin(client, session, owner)
    assert client.post("/admin/engine/retry", data={"all": "failed"}).status_code == 302
    session.expire_all()
    assert {session.get(OutboxMessage, r.id).status for r in rows} == {OutboxStatus.PENDING}
    page = client.get("/admin/engine").get_data(as_text=True)
    assert "3 effects queued to be tried again" in page
    assert "Nothing has failed." in page


def test_a_sent_effect_is_not_sent_again(client, session, owner):
    case = factories.asb_case(session, owner)
    row = _failed(session, case, "admin:done", "x")
    row.status, row.last_error, row.completed_at = OutboxStatus.DONE, None, clock.now()
    session.commit()
    _admin(client, session, owner)
    client.post("/admin/engine/retry", data={"message_id": str(row.id)})
    session.expire_all()
    assert session.get(OutboxMessage, row.id).status is OutboxStatus.DONE
    assert "Nothing to try again" in client.get("/admin/engine").get_data(as_text=True)


def test_a_bad_id_is_a_clear_400(client, session, owner):
    _admin(client, session, owner)
    assert client.post("/admin/engine/retry", data={"message_id": "twelve"}).status_code == 400


def test_others_may_not_see_or_retry(signed_in, session, owner):
    case = factories.asb_case(session, owner)
    row = _failed(session, case, "admin:other", "x")
    assert signed_in.get("/admin/engine").status_code == 403
    assert signed_in.post("/admin/engine/retry",
                          data={"message_id": str(row.id)}).status_code == 403
    session.expire_all()
    assert session.get(OutboxMessage, row.id).status is OutboxStatus.FAILED


def test_signed_out_goes_to_sign_in(client):
    response = client.get("/admin/engine")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_the_overview_links_administrators_to_it(client, session, owner):
    _admin(client, session, owner)
    assert "/admin/engine" in client.get("/overview").get_data(as_text=True)


def test_the_overview_does_not_link_others_to_it(signed_in):
    assert "/admin/engine" not in signed_in.get("/overview").get_data(as_text=True)
