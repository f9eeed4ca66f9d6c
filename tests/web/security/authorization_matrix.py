"""Who may reach each route: the table the authorization matrix test checks the app against.

Every rule of the Flask app's url_map needs a row here, or test_authorization_matrix fails
naming it. A row is one line, endpoint -> policy:

    "cases.show": CASE_VISIBLE,                                # every method the rule has
    "actions.show": {"GET": CASE_VISIBLE, "POST": ACTION_PARTY},  # per method
    "inbox.claim": Row(CASE_WORKER, form={"stage_id": "{stage_id}"}),  # with a form body

Adding a route: add its row, choosing the policy the route must enforce (or write a new
Policy below from a predicate on `Who`, and say why in a comment). URL parameters are
filled from the fixture world (world.World.url_values: reference, stage_id, document_id,
action_id, meeting_id, item_id, person_id, location_id, filename, restricted_reference,
request_id, review_id, user_id, token, fmt); a new parameter name needs a value there.
A row's `values` override them and may use "{name}" placeholders too (access.ask points
`reference` at the restricted case). `form` values and `query` values may use the same "{name}"
placeholders. Then run `pytest tests/web/security/test_authorization_matrix.py -k <endpoint>`.

The world (world.py): agency A owns a case of each type (the ASB case is the one in URLs)
and shares it with agency B; agency C is unrelated; the action on it is for B; the meeting
is organised by A with B attending, chaired by A's panel member, and has the MARAC case on
its agenda. A also owns a restricted case (shared with B, which a restriction makes not
enough) that C has asked to see, a closed case due for deletion (the retention review), and
an account (the colleague, two-factor on) with a usable password reset link. Each role has
a user in each agency, two-factor set up where the role needs it (the partnership-wide
roles, administrator and auditor, therefore appear as owner, sharer and unrelated alike),
plus someone signed out.

Allowed means 2xx/3xx (for a POST with no proper body, a 4xx form error such as 400 or 409
also counts); denied means 403 or 404 as the route answers it, or for someone signed out a
redirect to sign-in. Whatever the status, no page shown to agency C (outside the
partnership-wide roles) or to someone signed out may contain the world's SECRET texts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from storage.accounts.models import Role

WIDE = (Role.PARTNERSHIP_ADMIN, Role.AUDITOR)
PLANNERS = (Role.MANAGER, Role.PANEL_MEMBER, Role.PARTNERSHIP_ADMIN)


@dataclass(frozen=True)
class Who:
    """One user of the world: their agency (A owner, B sharing, C unrelated) and role, or
    (None, None) for someone signed out."""

    agency: str | None
    role: Role | None

    @property
    def signed_in(self) -> bool:
        return self.role is not None

    @property
    def wide(self) -> bool:
        return self.role in WIDE

    @property
    def works(self) -> bool:
        """Does more than audit: auditors see everything and change nothing."""
        return self.signed_in and self.role is not Role.AUDITOR

    def __str__(self) -> str:
        return "signed out" if self.role is None else f"{self.role.value} of {self.agency}"


@dataclass(frozen=True)
class Policy:
    name: str
    allows: Callable[[Who], bool] = field(compare=False)

    def __repr__(self) -> str:
        return self.name


def _visible(w: Who) -> bool:
    return w.signed_in and (w.wide or w.agency in ("A", "B"))


PUBLIC = Policy("PUBLIC", lambda w: True)
SIGNED_IN = Policy("SIGNED_IN", lambda w: w.signed_in)
# The case (and what hangs off it): the owning and sharing agencies, partnership-wide roles.
CASE_VISIBLE = Policy("CASE_VISIBLE", _visible)
# Changing the case: as CASE_VISIBLE, but not someone who only audits.
CASE_WORKER = Policy("CASE_WORKER", lambda w: _visible(w) and w.works)
# Managing the case (close, share, move...): the owner's managers, partnership admins.
MANAGER_OF_OWNER = Policy("MANAGER_OF_OWNER", lambda w: w.role is Role.PARTNERSHIP_ADMIN
                          or (w.role is Role.MANAGER and w.agency == "A"))
# A stage's form: the owning agency (the stage is not given to anyone else), not auditors.
STAGE_WORKER = Policy("STAGE_WORKER", lambda w: w.agency == "A" and w.works)
# Reading an active stage's form: the agencies that may fill it in.
STAGE_READER = Policy("STAGE_READER", lambda w: w.signed_in and w.agency == "A")
# An action: the agency it is for (B) and the case's owner (A), not auditors.
ACTION_PARTY = Policy("ACTION_PARTY", lambda w: w.works and w.agency in ("A", "B"))
# A person's details: the agencies working with them (A and B through the case) and
# partnership administrators; not auditors.
PERSON_WORKER = Policy("PERSON_WORKER", lambda w: w.works and (
    w.agency in ("A", "B") or w.role is Role.PARTNERSHIP_ADMIN))
# A meeting: the organiser (A), the agencies attending (B), the chair, partnership-wide roles.
MEETING_VISIBLE = Policy("MEETING_VISIBLE", _visible)
# Running a meeting: as MEETING_VISIBLE, and a manager, panel member or administrator.
MEETING_RUNNER = Policy("MEETING_RUNNER", lambda w: _visible(w) and w.role in PLANNERS)
MEETING_PLANNER = Policy("MEETING_PLANNER", lambda w: w.role in PLANNERS)
MANAGERS = Policy("MANAGERS", lambda w: w.role in (Role.MANAGER, Role.PARTNERSHIP_ADMIN))
ADMIN_ONLY = Policy("ADMIN_ONLY", lambda w: w.role is Role.PARTNERSHIP_ADMIN)
AUDITOR_ONLY = Policy("AUDITOR_ONLY", lambda w: w.role is Role.AUDITOR)
# The audit log: the partnership-wide roles only (it names every agency's records).
WIDE_ONLY = Policy("WIDE_ONLY", lambda w: w.wide)
# The sharing agreement: partnership-level rules, no record in it; read by every agency's
# managers (they decide access requests by it) and by the partnership-wide roles.
AGREEMENT_READERS = Policy("AGREEMENT_READERS", lambda w: w.role in (
    Role.MANAGER, Role.PARTNERSHIP_ADMIN, Role.AUDITOR))
# Managing a person (locking the profile, a subject access export): managers of the
# agencies working with them (A and B), partnership administrators. The export holds only
# what the requester's agency may release, so the sharing agency's manager is by design.
PERSON_MANAGER = Policy("PERSON_MANAGER", lambda w: w.role is Role.PARTNERSHIP_ADMIN
                        or (w.role is Role.MANAGER and w.agency in ("A", "B")))


@dataclass(frozen=True)
class Row:
    """A policy with what the request carries: a form body for a POST (so the route gets
    past "bad request" to its access check) and query arguments."""

    policy: Policy | Mapping[str, Policy]
    form: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, object] = field(default_factory=dict)

    def url_values(self, world_values: Mapping[str, object]) -> dict[str, object]:
        """The world's URL values with this row's overrides ("{name}" placeholders filled)."""
        return dict(world_values) | {
            k: v.format(**world_values) if isinstance(v, str) else v
            for k, v in self.values.items()}

    def policy_for(self, method: str) -> Policy | None:
        if isinstance(self.policy, Policy):
            return self.policy
        return self.policy.get(method)


MATRIX: dict[str, Policy | Mapping[str, Policy] | Row] = {
    # --- public ---------------------------------------------------------------------------
    "auth.sign_in": PUBLIC,
    "health.healthz": PUBLIC,
    "static": PUBLIC,
    "govuk_assets": Row(PUBLIC, values={"filename": "images/favicon.svg"}),
    # --- anyone signed in (each page scopes what it lists to what the user may see) --------
    "auth.sign_out": SIGNED_IN,
    "inbox.index": SIGNED_IN,
    "cases.index": Row(SIGNED_IN, query={"q": "ECRETMARKE"}),
    "search.index": Row(SIGNED_IN, query={"q": "ECRETMARKE"}),
    "overview.index": SIGNED_IN,
    "intake.new": SIGNED_IN,  # the case types offered depend on role and agency type
    "profiles.person": SIGNED_IN,  # name and who to contact only, unless CASE_VISIBLE
    "profiles.location": SIGNED_IN,
    "panels.index": SIGNED_IN,
    # --- one case ---------------------------------------------------------------------------
    "cases.show": CASE_VISIBLE,
    "cases.document": CASE_VISIBLE,
    "cases.give_action": CASE_WORKER,
    "cases.upload_document": CASE_WORKER,
    "cases.add_note": CASE_WORKER,
    "cases.link": CASE_WORKER,
    "cases.close": MANAGER_OF_OWNER,
    "cases.reopen": MANAGER_OF_OWNER,
    "cases.pause": MANAGER_OF_OWNER,
    "cases.resume": MANAGER_OF_OWNER,
    "cases.move": MANAGER_OF_OWNER,
    "cases.share": MANAGER_OF_OWNER,
    "stages.form": {"GET": STAGE_READER, "POST": STAGE_WORKER},
    "actions.show": {"GET": CASE_VISIBLE, "POST": ACTION_PARTY},
    "inbox.claim": Row(CASE_WORKER, form={"stage_id": "{stage_id}"}),
    "profiles.change_person": PERSON_WORKER,
    # --- meetings ---------------------------------------------------------------------------
    "panels.new": MEETING_PLANNER,
    "panels.show": MEETING_VISIBLE,
    "panels.item": {"GET": MEETING_VISIBLE, "POST": MEETING_RUNNER},
    "panels.add_item": MEETING_RUNNER,
    "panels.attendance": MEETING_RUNNER,
    "panels.move_item": MEETING_RUNNER,
    "panels.remove_item": MEETING_RUNNER,
    "panels.status": MEETING_RUNNER,
    # --- administration ---------------------------------------------------------------------
    "engine.index": ADMIN_ONLY,
    "engine.retry": ADMIN_ONLY,
    "rules.index": MANAGERS,
    "access.agreement": AGREEMENT_READERS,
    "audit.index": WIDE_ONLY,
    "audit.export": WIDE_ONLY,
    "audit.verify": WIDE_ONLY,
    # Each manager's retention list holds their own agency's reviews (an admin's: all).
    "retention.index": MANAGERS,
    # Deciding the owning agency's review; confirm=yes, or the form error comes first.
    "retention.delete": Row(MANAGER_OF_OWNER, form={"confirm": "yes"}),
    "retention.keep": Row(MANAGER_OF_OWNER, form={"months": "12", "reason": "Still needed"}),
    # --- restricted records -----------------------------------------------------------------
    # Anyone signed in may ask for a restricted case they cannot see (the page says only who
    # owns it); those who can see it are sent to it. The form error of an agency type the
    # agreement leaves out (400) counts as reaching the route.
    "access.ask": Row(SIGNED_IN, values={"reference": "{restricted_reference}"},
                      form={"access-reason": "Working with the victim"}),
    # Each user's own requests, and a manager's queue for their agency's cases.
    "access.requests": SIGNED_IN,
    "access.decide": Row(MANAGER_OF_OWNER, form={"decision": "decline",
                                                 "reason": "Not needed"}),
    "access.case_restriction": Row(MANAGER_OF_OWNER, form={"restricted": "yes",
                                                           "reason": "Victim at risk"}),
    "access.person_lock": Row(PERSON_MANAGER, form={"locked": "yes", "reason": "At risk"}),
    "person_records.history": CASE_VISIBLE,  # whoever works with the person, wide roles
    "person_records.subject_access": PERSON_MANAGER,
    # --- accounts ---------------------------------------------------------------------------
    "auth.forgot_password": PUBLIC,  # the same answer whether or not an account exists
    "auth.reset_password": PUBLIC,  # the token is the key: anyone holding the link
    # The code step exists only between a right password and the code: without a pending
    # sign-in everyone is sent back to sign-in (counted as denied only when signed out).
    # The step itself is tested in tests/web/test_auth*.py and fuzzed with a pending sign-in.
    "auth.two_factor": SIGNED_IN,
    "account.index": SIGNED_IN,
    "account.enrol": SIGNED_IN,
    "account.password": SIGNED_IN,
    "account.users": MANAGERS,  # a manager lists their own agency's accounts
    # The colleague's account (agency A): A's managers and partnership administrators.
    "account.disable": MANAGER_OF_OWNER,
    "account.enable": MANAGER_OF_OWNER,
    "account.reset": MANAGER_OF_OWNER,
}


def row(endpoint: str) -> Row | None:
    entry = MATRIX.get(endpoint)
    if entry is None or isinstance(entry, Row):
        return entry
    return Row(entry)
