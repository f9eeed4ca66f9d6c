"""What a detector's e-mail may say: which rule, how many reports, about whom in general
terms ("a person on the case", "the incident location") and which case. Never a name, an
address or an id of a person: those stay behind sign-in.

`compose_email` adds this to the case context when the payload names a detection
(storage.detections.services queues such rows: the owning agency is told of a hit, the lead
officer of the Case Review duty).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from casebridge.settings import Settings
from rules.detectors.config import DetectorConfigError, describe, for_settings
from storage.cases.models import Case
from storage.detections.models import Detection
from workflows.engine.effects import Undeliverable, get_row, payload_id


def detection_context(session: Session, payload: dict[str, Any],
                      settings: Settings) -> dict[str, Any]:
    detection = get_row(session, Detection, payload_id(payload, "detection_id"))
    if detection is None:
        raise Undeliverable(f"detection {payload.get('detection_id')} does not exist")
    try:
        detector = for_settings(settings).detectors.get(detection.detector)
    except DetectorConfigError as exc:
        raise Undeliverable(f"the detectors file is not valid: {exc.problems[0]}") from None
    opened = get_row(session, Case, detection.opened_case_id) if detection.opened_case_id else None
    return {
        "rule_title": detector.title if detector else detection.detector.replace("_", " "),
        "rule": describe(detector) if detector else "",
        "reports": detection.reports,
        "about": "the incident location" if detection.location_id else "a person on the case",
        "opened_reference": opened.reference if opened else None,
        "marac_repeat": detection.detector == "marac_repeat",
    }
