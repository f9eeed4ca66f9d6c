"""One small partnership that every security test works on: agency A owns a case of each
case type and shares it with agency B; agency C has nothing to do with any of it. Every
role has a user in every agency, so each (role, relation to the record) pair is one user.

Every text about the records carries SECRET, so a page shown to agency C can be searched
for it: finding it there is a leak, whatever the status code said.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from storage.accounts.models import Role, User
from storage.accounts.resets import request_reset, token_for
from storage.accounts.two_factor import enrol_with_secret, new_secret
from storage.agencies.models import Agency, AgencyType
from storage.cases import workflow
from storage.cases.models import Action, Case, ParticipantRole, StageInstance
from storage.cases.services import add_note, add_participant, share_case
from storage.documents.models import Document
from storage.documents.services import attach_document
from storage.documents.store import DocumentStore
from storage.meetings import services as meetings
from storage.meetings.models import AgendaItem, Attendance, Meeting, MeetingKind
from storage.outbox.models import OutboxMessage, OutboxStatus
from storage.people.models import Location, Person
from storage.people.services import create_location, create_person
from storage.restricted import services as restricted
from storage.restricted.models import AccessRequest, AccessRequestStatus
from storage.retention.models import RetentionOutcome, RetentionReview
from tests import factories
from tests.web.conftest import TWO_FACTOR_ROLES

SECRET = "SECRETMARKER"
CASE_TYPES = ("asb", "hate_crime", "marac", "asb_case_review", "restorative_justice")
AGENCIES = ("A", "B", "C")  # owner, shared with, unrelated
RELATION = {"A": "owning agency", "B": "sharing agency", "C": "unrelated agency"}
SYSTEM = factories.SYSTEM
LONDON = ZoneInfo("Europe/London")
SECRET_KEY = "test-secret-key"  # the apps' (conftest.make_app): reset links are signed with it


@dataclass
class World:
    agencies: dict[str, Agency]
    users: dict[tuple[str, Role], User]
    cases: dict[str, Case]
    person: Person
    location: Location
    action: Action
    meeting: Meeting
    item: AgendaItem
    document: Document
    stage: StageInstance
    restricted_case: Case  # owned by A, shared with B: a share is not enough to see it
    access_request: AccessRequest  # C's request for the restricted case, waiting for A
    review: RetentionReview  # a closed case of A's due for deletion (no documents)
    colleague: User  # an account of A's (two-factor on) that managers look after
    reset_token: str  # a usable password reset link's token, for the colleague
    secrets: list[str] = field(default_factory=list)

    @property
    def case(self) -> Case:
        """The case the URL parameters point at (the ASB case holds everything)."""
        return self.cases["asb"]

    def url_values(self) -> dict[str, object]:
        """A value for every URL parameter a route may have, all about the one record."""
        return {
            "reference": self.case.reference, "stage_id": self.stage.id,
            "document_id": self.document.id, "action_id": self.action.id,
            "meeting_id": self.meeting.id, "item_id": self.item.id,
            "person_id": self.person.id, "location_id": self.location.id,
            "filename": "casebridge.css",
            "restricted_reference": self.restricted_case.reference,
            "request_id": self.access_request.id, "review_id": self.review.id,
            "user_id": self.colleague.id, "token": self.reset_token, "fmt": "json",
        }


def build(session: Session, documents: DocumentStore, *, marker: str = SECRET) -> World:
    """The world; `marker` is the text every free-text field carries (SECRET, or for the
    safe-rendering tests a piece of HTML that must come back escaped). The shared profiles
    (a location's address, a person's known-as name) carry it only in the latter: every
    agency may see those."""
    agencies = {
        "A": factories.agency(session, AgencyType.POLICE),
        "B": factories.agency(session, AgencyType.HOUSING),
        "C": factories.agency(session, AgencyType.COUNCIL),
    }
    users = {(key, role): factories.user(session, agency, role)
             for key, agency in agencies.items() for role in Role}
    for user in users.values():  # as they would have: else every page sends them to set it up
        if TWO_FACTOR_ROLES & user.roles:
            enrol_with_secret(session, SYSTEM, user, new_secret())
    owner = agencies["A"]
    cases = {}
    for case_type in CASE_TYPES:
        case = factories.open_case(
            session, SYSTEM, case_type=case_type, title=f"{marker} {case_type} title",
            summary=f"{marker} {case_type} summary", owning_agency_id=owner.id)
        share_case(session, SYSTEM, case_id=case.id, agency_id=agencies["B"].id)
        cases[case_type] = case
    case = cases["asb"]
    person = create_person(session, SYSTEM, given_name="Alex", family_name="Matrixcase",
                           known_as=None if marker == SECRET else marker,
                           date_of_birth=date(1980, 5, 17), phone="07700900461")
    add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=person.id)
    street = "1 Matrix Street" if marker == SECRET else f"1 {marker} Street"
    location = create_location(session, SYSTEM, address_line_1=street, town="Testtown",
                               postcode="TT1 1TT")
    add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.INCIDENT_LOCATION,
                    location_id=location.id)
    action = factories.assign_action(
        session, SYSTEM, case_id=case.id, title=f"{marker} action title",
        assigned_agency_id=agencies["B"].id, detail=f"{marker} action detail",
        due_at=clock.now() + timedelta(days=5))
    add_note(session, SYSTEM, case_id=case.id, body=f"{marker} note body")
    document = attach_document(session, SYSTEM, documents, case_id=case.id,
                               filename=f"{marker}-letter.txt", content_type="text/plain",
                               stream=io.BytesIO(b"a letter about the case\n"))
    day = (clock.now() + timedelta(days=7)).astimezone(LONDON).date()
    meeting = meetings.create_meeting(
        session, SYSTEM, kind=MeetingKind.MARAC, title=f"{marker} meeting",
        scheduled_for=datetime.combine(day, time(10), tzinfo=LONDON), venue="Town hall",
        chair_user_id=users[("A", Role.PANEL_MEMBER)].id, organiser_agency_id=owner.id)
    meetings.record_attendance(session, SYSTEM, meeting_id=meeting.id,
                               agency_id=agencies["B"].id, name=f"{marker} attendee",
                               attendance=Attendance.PRESENT)
    item = meetings.add_to_agenda(session, SYSTEM, meeting_id=meeting.id,
                                  case_id=cases["marac"].id, reason=f"{marker} agenda reason")
    # A second item, so the agenda's "move" buttons are drawn.
    meetings.add_to_agenda(session, SYSTEM, meeting_id=meeting.id,
                           case_id=cases["hate_crime"].id, reason="Second on the agenda")
    # One effect that failed, so the engine page draws its "try again" form.
    failed = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id).limit(1)).one()
    failed.status, failed.last_error = OutboxStatus.FAILED, "relay refused the message"
    stage = factories.active_stage(case, "report")
    hidden = factories.open_case(
        session, SYSTEM, case_type="asb", title=f"{marker} restricted title",
        summary=f"{marker} restricted summary", owning_agency_id=owner.id)
    share_case(session, SYSTEM, case_id=hidden.id, agency_id=agencies["B"].id)
    restricted.set_case_restricted(session, SYSTEM, users[("A", Role.MANAGER)],
                                   case_id=hidden.id, restricted=True,
                                   reason=f"{marker} restriction reason")
    asker = users[("C", Role.PRACTITIONER)]
    access_request = AccessRequest(case_id=hidden.id, requested_by_id=asker.id,
                                   requesting_agency_id=asker.agency_id,
                                   reason=f"{marker} access reason",
                                   status=AccessRequestStatus.PENDING, requested_at=clock.now())
    session.add(access_request)
    old = factories.open_case(session, SYSTEM, case_type="asb", title=f"{marker} old title",
                              summary=f"{marker} old summary", owning_agency_id=owner.id)
    workflow.close_case(session, SYSTEM, case_id=old.id, reason="Resolved",
                        expected_version=old.version)
    review = RetentionReview(case_id=old.id, case_reference=old.reference, case_type="asb",
                             owning_agency_id=owner.id, closed_at=old.closed_at,
                             due_on=(clock.now() - timedelta(days=30)).date(),
                             outcome=RetentionOutcome.DELETE, rule_years=6)
    session.add(review)
    colleague = factories.user(session, owner, Role.PRACTITIONER)
    enrol_with_secret(session, SYSTEM, colleague, new_secret())
    reset = request_reset(session, email=colleague.email, secret_key=SECRET_KEY,
                          lifetime=timedelta(days=1), ip_address=None)
    assert reset is not None
    session.commit()
    return World(agencies=agencies, users=users, cases=cases, person=person,
                 location=location, action=action, meeting=meeting, item=item,
                 document=document, stage=stage, restricted_case=hidden,
                 access_request=access_request, review=review, colleague=colleague,
                 reset_token=token_for(SECRET_KEY, reset.nonce),
                 secrets=[marker, "07700900461"])


def enter(client: FlaskClient, user: User | None) -> None:
    """Signed in as `user` (None: signed out) without the password check: argon2 is slow on
    purpose, and sign-in has its own tests."""
    with client.session_transaction() as cookie:
        cookie.clear()
        if user is not None:
            now = clock.now().isoformat()
            cookie.update(user_id=user.id, signed_in_at=now, last_seen=now,
                          epoch=user.session_epoch)


def pending(client: FlaskClient, user: User) -> None:
    """Half signed in as `user`: the password was right, the code step (auth.two_factor)
    waits."""
    with client.session_transaction() as cookie:
        cookie.clear()
        cookie.update(pending_user_id=user.id, pending_epoch=user.session_epoch,
                      pending_at=clock.now().isoformat(), pending_next="/")


def fingerprint(connection, skip: tuple[str, ...] = ()) -> tuple:
    """What a request could have written, in one read: every table's row count, its latest
    `updated_at` where it has one, and the sum of case versions (every change to a case
    moves its version). Equal before and after: nothing was written."""
    from sqlalchemy import func

    import storage.models  # noqa: F401  (every table in the metadata)
    from storage.base import Base

    columns = []
    for table in Base.metadata.sorted_tables:
        if table.name in skip:
            continue
        columns.append(select(func.count()).select_from(table).scalar_subquery())
        if "updated_at" in table.c:
            columns.append(select(func.max(table.c.updated_at)).scalar_subquery())
        if table.name == "cases":
            columns.append(select(func.sum(table.c.version)).scalar_subquery())
    return tuple(connection.execute(select(*columns)).one())
