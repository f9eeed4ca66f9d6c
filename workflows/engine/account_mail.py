"""The password reset e-mail, composed at send time: nothing is sent for a link that was
used, replaced or has expired, or for an account disabled since it was asked for."""

from __future__ import annotations

from casebridge import clock
from casebridge.settings import Settings
from storage.accounts.models import PasswordReset, User
from storage.accounts.resets import token_for
from storage.outbox.models import OutboxMessage
from workflows.engine.effects import Outgoing, _link, _when, get_row, payload_id


def compose_password_reset(session, message: OutboxMessage,  # type: ignore[no-untyped-def]
                           settings: Settings) -> Outgoing | None:
    reset = get_row(session, PasswordReset, payload_id(message.payload, "password_reset_id"))
    if reset is None or reset.used_at is not None or reset.expires_at <= clock.now():
        return None
    user = get_row(session, User, reset.user_id)
    if user is None or not user.active:
        return None
    path = f"/reset-password/{token_for(settings.effective_secret_key(), reset.nonce)}"
    context = {"link": _link(settings, path), "link_text": "Choose a new password",
               "path": path, "expires": _when(reset.expires_at, settings)}
    return Outgoing(str(message.payload.get("template") or "password_reset"), context,
                    [user.email])
