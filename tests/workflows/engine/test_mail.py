"""The e-mail module: templates to two parts, a Message-ID that survives a resend, and a
real SMTP conversation."""

from __future__ import annotations

import smtplib

import pytest
from jinja2 import UndefinedError

from workflows.engine.mail import (
    UNDISCLOSED,
    MailConfig,
    Mailer,
    TemplateMissing,
    build_message,
    is_permanent,
    message_id_for,
    render,
)

CONTEXT = {"agency_name": "Test Housing", "case_reference": "ASB-2026-000001",
           "case_type_name": "Anti-social behaviour", "due": "Monday 9 March 2026, 17:00",
           "link": "https://casebridge.test/actions/1", "link_text": "See the action"}


def test_message_id_depends_only_on_the_key_and_the_sender_domain():
    first = message_id_for("action-assigned:1", "noreply@council.example")
    assert first == message_id_for("action-assigned:1", "other@council.example")
    assert first != message_id_for("action-assigned:2", "noreply@council.example")
    assert first.startswith("<")
    assert first.endswith("@council.example>")


def test_both_parts_are_rendered_and_html_is_escaped(frozen_clock):
    message = build_message(
        template="action_assigned", context={**CONTEXT, "agency_name": "<b>Tom & Co</b>"},
        recipients=["a@x.test"], idempotency_key="k", sender="Casebridge <cb@x.test>",
    )
    assert message["Subject"] == "New action for <b>Tom & Co</b> on case ASB-2026-000001"
    assert message["To"] == "a@x.test"
    assert message["Message-ID"] == message_id_for("k", "cb@x.test")
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "ASB-2026-000001" in text
    assert "https://casebridge.test/actions/1" in text
    assert "&lt;b&gt;Tom &amp; Co&lt;/b&gt;" in html
    assert "<b>Tom" not in html


def test_several_recipients_are_not_shown_to_each_other(frozen_clock):
    message = build_message(template="action_assigned", context=CONTEXT,
                            recipients=["a@x.test", "b@x.test"], idempotency_key="k",
                            sender="cb@x.test")
    assert message["To"] == UNDISCLOSED
    assert "a@x.test" not in message.as_string()


def test_a_missing_template_or_value_is_a_permanent_error():
    with pytest.raises(TemplateMissing) as missing:
        render("no_such_template", CONTEXT)
    assert is_permanent(missing.value)
    with pytest.raises(UndefinedError) as undefined:
        render("action_assigned", {"case_reference": "X"})
    assert is_permanent(undefined.value)


def test_relay_answers_are_sorted_into_permanent_and_passing():
    assert is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not is_permanent(smtplib.SMTPRecipientsRefused({"a@x": (451, b"try later")}))
    assert not is_permanent(smtplib.SMTPAuthenticationError(535, b"bad login"))
    assert not is_permanent(ConnectionRefusedError())
    assert not is_permanent(TimeoutError())


def test_a_real_relay_receives_one_message_with_both_parts(smtp_sink, frozen_clock):
    config = MailConfig(host=smtp_sink.host, port=smtp_sink.port, tls="none", username="",
                        password="", timeout=5, sender="Casebridge <cb@casebridge.test>")
    message = build_message(template="action_assigned", context=CONTEXT,
                            recipients=["a@x.test", "b@x.test"], idempotency_key="k:1",
                            sender=config.sender)
    with Mailer(config) as mailer:
        assert mailer.send(message, ["a@x.test", "b@x.test"]) == {}
    [received] = smtp_sink.messages
    assert received.mail_from == "cb@casebridge.test"
    assert received.rcpt_tos == ["a@x.test", "b@x.test"]
    assert received.message_id == message_id_for("k:1", "cb@casebridge.test")
    assert "ASB-2026-000001" in received.part("plain")
    assert "<strong>ASB-2026-000001</strong>" in received.part("html")


def test_a_relay_that_is_down_raises_and_the_next_send_reconnects(smtp_sink, frozen_clock):
    config = MailConfig(host=smtp_sink.host, port=smtp_sink.port, tls="none", username="",
                        password="", timeout=5, sender="cb@casebridge.test")
    message = build_message(template="action_assigned", context=CONTEXT,
                            recipients=["a@x.test"], idempotency_key="k:2", sender=config.sender)
    smtp_sink.stop()
    with Mailer(config) as mailer:
        with pytest.raises(ConnectionRefusedError):
            mailer.send(message, ["a@x.test"])
        smtp_sink.start()
        mailer.send(message, ["a@x.test"])
    assert len(smtp_sink.messages) == 1
