"""Recording detector hits, once, with everything a hit does, in the caller's transaction.

`record_hits` inserts the hits with INSERT ... ON CONFLICT DO NOTHING on their key; only for
the rows it really inserted does it raise the flag (unless the subject already has an active
one of that kind), queue the owning agency's e-mail (ids only: the engine composes it), give
the Case Review duty's action to the lead officer, open a case where the configuration names
a case type, and audit. So an intake and a sweep, or two sweeps, finding the same hit do
everything once between them. Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from rules.detectors.config import DetectorConfig, DetectorsConfig, describe
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record as audit
from storage.bulk import insert_rows
from storage.cases.models import LinkKind, ParticipantRole
from storage.detections.models import Detection
from storage.detections.queries import Hit
from storage.flags.models import Flag, FlagKind
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue_many

DETECTOR_ACTOR = Actor.system("rules.detectors")
HIT_TEMPLATE = "detection_hit"
DUTY_TEMPLATE = "case_review_duty"
DUTY_ACTION = "Explain the ASB Case Review to the victim"


@dataclass(frozen=True)
class Recorded:
    """A hit recorded now (not before): what the intake page and the sweep's counts show."""

    hit: Hit
    detection_id: int
    flag_raised: bool
    opened_case_id: int | None
    message: str  # plain words, no personal data, e.g. "Repeat victim: 3 reports in 6 months"


def message_for(detector: DetectorConfig, hit: Hit) -> str:
    what = detector.title
    if detector.name == "marac_repeat":
        return f"{what}: {describe(detector)}"
    noun = "incidents" if detector.name == "marac_escalation" else "reports"
    where = " about this location" if hit.subject == "location" else ""
    months = f"{detector.within_months} month{'s' if detector.within_months != 1 else ''}"
    route = ""
    if hit.route == "hate incident":
        route = " (a hate incident)"
    elif hit.route == "reports with hate":
        route = " (one involved hate)"
    elif hit.route == "location":
        route = " by several people"
    return f"{what}: {hit.reports} {noun}{where} in {months}{route}"


def record_hits(session: Session, config: DetectorsConfig, hits: Sequence[Hit], now: datetime,
                actor: Actor = DETECTOR_ACTOR) -> list[Recorded]:
    if not hits:
        return []
    unique = list({hit.key: hit for hit in hits}.values())
    rows = [{"key": h.key, "detector": h.detector,
             "person_id": h.subject_id if h.subject == "person" else None,
             "location_id": h.subject_id if h.subject == "location" else None,
             "case_id": h.case_id, "reports": h.reports, "detected_at": now, "created_at": now}
            for h in unique]
    inserted = {key: detection_id for detection_id, key in insert_rows(
        session, Detection.__table__, rows, skip_conflicts_on="key", returning=("id", "key"))}
    fresh = [h for h in unique if h.key in inserted]
    if not fresh:
        return []
    flagged = _raise_flags(session, config, fresh, now, actor)
    emails: list[dict[str, Any]] = []
    recorded: list[Recorded] = []
    for hit in fresh:
        detector = config[hit.detector]
        detection_id = inserted[hit.key]
        payload = {"detection_id": detection_id, "case_id": hit.case_id}
        if detector.notify_owner:
            emails.append({"idempotency_key": f"detection:{detection_id}:owner",
                           "case_id": hit.case_id,
                           "payload": payload | {"template": HIT_TEMPLATE,
                                                 "recipient": {"kind": "owner"}}})
        if detector.name == "case_review_duty":
            emails.append({"idempotency_key": f"detection:{detection_id}:lead",
                           "case_id": hit.case_id,
                           "payload": payload | {"template": DUTY_TEMPLATE,
                                                 "recipient": {"kind": "lead"}}})
            _duty_action(session, actor, detector, hit, now)
        opened = _open_case(session, actor, detector, hit, detection_id)
        audit(session, actor, AuditAction.CREATE, entity_type="detections",
              entity_id=detection_id, case_id=hit.case_id,
              after={"detector": hit.detector, "subject": hit.subject,
                     "subject_id": hit.subject_id, "reports": hit.reports,
                     "flag_raised": hit.key in flagged, "opened_case_id": opened})
        recorded.append(Recorded(hit, detection_id, hit.key in flagged, opened,
                                 message_for(detector, hit)))
    enqueue_many(session, EffectKind.EMAIL, emails)
    session.flush()
    return recorded


def _raise_flags(session: Session, config: DetectorsConfig, hits: list[Hit], now: datetime,
                 actor: Actor) -> set[str]:
    """One flag per subject and kind: none where an active one is there already (raised by
    a person, an earlier hit, or another hit in this batch)."""
    wanted = [(h, FlagKind(config[h.detector].flag)) for h in hits if config[h.detector].flag]
    if not wanted:
        return set()
    people = {h.subject_id for h, _ in wanted if h.subject == "person"}
    places = {h.subject_id for h, _ in wanted if h.subject == "location"}
    active: set[tuple[str, int, FlagKind]] = set()
    for person_id, location_id, kind in session.execute(
        select(Flag.person_id, Flag.location_id, Flag.kind).where(
            or_(Flag.person_id.in_(people), Flag.location_id.in_(places)),
            Flag.cleared_at.is_(None), or_(Flag.expires_at.is_(None), Flag.expires_at > now))
    ):
        if person_id is not None:
            active.add(("person", person_id, kind))
        else:
            active.add(("location", location_id, kind))
    raised: set[str] = set()
    for hit, kind in wanted:
        if (hit.subject, hit.subject_id, kind) in active:
            continue
        active.add((hit.subject, hit.subject_id, kind))
        detector = config[hit.detector]
        flag = Flag(kind=kind, detail=f"{message_for(detector, hit)} (detector, case "
                                      f"{hit.reference})",
                    person_id=hit.subject_id if hit.subject == "person" else None,
                    location_id=hit.subject_id if hit.subject == "location" else None,
                    raised_at=now)
        session.add(flag)
        session.flush()
        audit(session, actor, AuditAction.CREATE, entity=flag, case_id=hit.case_id,
              after={"kind": kind.value, "person_id": flag.person_id,
                     "location_id": flag.location_id, "detector": hit.detector})
        raised.add(hit.key)
    return raised


def _duty_action(session: Session, actor: Actor, detector: DetectorConfig, hit: Hit,
                 now: datetime) -> None:
    from storage.cases.services import assign_action

    assign_action(session, actor, case_id=hit.case_id, title=DUTY_ACTION,
                  detail=("2025 statutory guidance: explain the ASB Case Review to every victim "
                          f"who makes {detector.reports} reports in {detector.within_months} "
                          "months. Record when and how you told them."),
                  assigned_agency_id=hit.owning_agency_id,
                  assigned_user_id=hit.lead_officer_id,
                  due_at=now + timedelta(days=detector.action_due_days or 10))


def _open_case(session: Session, actor: Actor, detector: DetectorConfig, hit: Hit,
               detection_id: int) -> int | None:
    """A case of the configured type, owned by the agency of the report that met the
    threshold, with the subject on it and linked from that report."""
    if detector.open_case is None:
        return None
    from storage.cases.services import add_participant, link_cases
    from storage.cases.workflow import open_case

    case = open_case(session, actor, case_type=detector.open_case,
                     title=f"{detector.title} (from {hit.reference})",
                     owning_agency_id=hit.owning_agency_id,
                     lead_officer_id=hit.lead_officer_id)
    if hit.subject == "person":
        add_participant(session, actor, case_id=case.id, role=ParticipantRole.VICTIM,
                        person_id=hit.subject_id)
    else:
        add_participant(session, actor, case_id=case.id, role=ParticipantRole.INCIDENT_LOCATION,
                        location_id=hit.subject_id)
    link_cases(session, actor, from_case_id=hit.case_id, to_case_id=case.id,
               kind=LinkKind.ESCALATED_TO, reason=f"{detector.title}: {describe(detector)}")
    session.execute(update(Detection).where(Detection.id == detection_id)
                    .values(opened_case_id=case.id))
    return case.id
