"""Outgoing e-mail on smtplib: Jinja2 templates to a two-part message, sent over one
connection per batch.

Our own small module rather than a mail library: we need exactly timeouts, the three TLS
modes, plain-text and HTML parts and a Message-ID we choose, and nothing that queues or
retries on its own (the outbox does that, once, in the database).
"""

from __future__ import annotations

import email.policy
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)

from casebridge import clock
from casebridge.settings import Settings

UNDISCLOSED = "undisclosed-recipients:;"


class TemplateMissing(LookupError):
    """An effect names a template we do not ship: no retry will fix that."""


@dataclass(frozen=True)
class MailConfig:
    host: str
    port: int
    tls: str  # none, starttls or ssl
    username: str
    password: str
    timeout: float
    sender: str  # the From header, e.g. "Casebridge <casebridge@council.example>"

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        return cls(
            host=settings.smtp_host, port=settings.effective_smtp_port, tls=settings.smtp_tls,
            username=settings.smtp_username, password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds, sender=settings.mail_from,
        )

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]


_templates = Environment(
    loader=PackageLoader("workflows.engine", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,  # a missing value is a bug, not a blank in someone's inbox
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # Templates ship with the code: compiled once per process, not checked on disk per e-mail.
    auto_reload=False,
)


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, making each header class once: the standard one builds
    a new class (type(...)) every time a header is set or parsed, a fifth of the cost of
    building a message. The headers themselves are the standard ones, unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# email.policy.default, with the header classes made once.
POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


def message_id_for(idempotency_key: str, sender_address: str) -> str:
    """The same outbox row always yields the same Message-ID, so a resend after a crash is
    recognisable as the same message (mail clients and archives collapse duplicates)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    domain = sender_address.rpartition("@")[2] or "casebridge.invalid"
    return f"<{digest}.outbox@{domain}>"


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) from `email/<template>.{subject.txt,txt,html}`."""
    try:
        subject = _templates.get_template(f"email/{template}.subject.txt").render(context)
        text = _templates.get_template(f"email/{template}.txt").render(context)
        html = _templates.get_template(f"email/{template}.html").render(context)
    except TemplateNotFound:
        raise TemplateMissing(f"no e-mail template {template!r}") from None
    return " ".join(subject.split()), text, html


def build_message(
    *, template: str, context: dict[str, Any], recipients: list[str], idempotency_key: str,
    sender: str,
) -> EmailMessage:
    """One message for all recipients. With several, the To header discloses none of them:
    the recipients are only on the envelope, so colleagues' addresses are not shared."""
    subject, text, html = render(template, context)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipients[0] if len(recipients) == 1 else UNDISCLOSED
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = message_id_for(idempotency_key, parseaddr(sender)[1])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office loops
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class Mailer:
    """One SMTP connection, opened on first send and reused for a batch; dropped after any
    error so the next send starts clean."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.tls == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            smtp.ehlo()
            if c.tls == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage, recipients: list[str]) -> dict[str, Any]:
        """Send once; returns the recipients the relay refused (when it accepted some)."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            return self._smtp.send_message(
                message, from_addr=self.config.sender_address, to_addrs=recipients
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def is_permanent(exc: BaseException) -> bool:
    """A 5xx answer (unknown mailbox, message refused) will not change on retry; a 4xx,
    a timeout or a refused connection may."""
    if isinstance(exc, TemplateMissing | TemplateError):
        return True  # our template or its context is wrong: a person must fix it
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        # Our login or From address refused is our configuration, not this message: keep
        # retrying until someone fixes the settings.
        ours = (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused)
        return exc.smtp_code >= 500 and not isinstance(exc, ours)
    return False
