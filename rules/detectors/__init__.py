"""Detectors: repeat victim, repeat location, repeat perpetrator, the ASB Case Review
threshold and the duty to tell a victim about it, MARAC potential escalation and MARAC
repeat. Configured in YAML (`config`: shipped defaults in default.yaml, a partnership's
file on top); found set-based in SQL (`storage.detections.queries`); each hit recorded once
with its flag, e-mail and case (`storage.detections.services`).

They run in three places, all through this module:
- at intake, `detect_for_case`: the detectors for the people and the place on a case just
  opened, in the request's transaction (flush; the request commits);
- in the sweep, `sweep`: every subject, one statement per detector, idempotent;
- in the dry run, the "detectors" family of `rules.preview`: what would fire, writing nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casebridge import clock
from rules import preview
from rules.detectors.config import (
    DetectorConfigError,
    DetectorsConfig,
    for_settings,
    load,
)
from storage.cases.models import CaseParticipant
from storage.db import unit_of_work
from storage.detections.queries import Hit, find_hits
from storage.detections.services import Recorded, message_for, record_hits

log = logging.getLogger("casebridge.rules.detectors")

__all__ = [
    "DetectorConfigError",
    "DetectorsConfig",
    "Hit",
    "Recorded",
    "detect_for_case",
    "find_all",
    "for_settings",
    "load",
    "repeat_victim_counts",
    "report_counts",
    "sweep",
]


def detect_for_case(session: Session, config: DetectorsConfig, case_id: int,
                    now: datetime | None = None) -> list[Recorded]:
    """The intake fast path: run every detector for the people and locations on this case,
    with this case as the newest report, and record the new hits (flush, no commit)."""
    now = now or clock.now()
    people, places = [], []
    for person_id, location_id in session.execute(
        select(CaseParticipant.person_id, CaseParticipant.location_id)
        .where(CaseParticipant.case_id == case_id)
    ):
        if person_id is not None:
            people.append(person_id)
        elif location_id is not None:
            places.append(location_id)
    if not people and not places:
        return []
    hits: list[Hit] = []
    for detector in config.enabled:
        hits += find_hits(session, config, detector, now, person_ids=sorted(set(people)),
                          location_ids=sorted(set(places)), trigger_case_id=case_id)
    return record_hits(session, config, hits, now)


def find_all(session: Session, config: DetectorsConfig, as_of: datetime, *,
             recorded: bool = False) -> list[Hit]:
    """Every subject's hits at `as_of`, one statement per detector."""
    hits: list[Hit] = []
    for detector in config.enabled:
        hits += find_hits(session, config, detector, as_of, recorded=recorded)
    return hits


def sweep(sessions: sessionmaker[Session], config: DetectorsConfig,
          now: datetime | None = None) -> dict[str, int]:
    """Find and record every hit not recorded yet, one detector per transaction (so a big
    first run is not one huge transaction). Idempotent: a second run records nothing.
    Returns counts only (no ids, no names): they go to Prefect and engine_runs."""
    now = now or clock.now()
    counts: Counter[str] = Counter()
    for detector in config.enabled:
        with unit_of_work(sessions) as session:
            hits = find_hits(session, config, detector, now)
            new = record_hits(session, config, hits, now)
        counts[detector.name] += len(new)
        counts["flags"] += sum(1 for r in new if r.flag_raised)
        counts["cases_opened"] += sum(1 for r in new if r.opened_case_id is not None)
    totals = {name: n for name, n in sorted(counts.items()) if n}
    log.info("detector sweep: %s", totals or "nothing new")
    return totals


def report_counts(session: Session, config: DetectorsConfig, name: str, subject_ids: list[int],
                  as_of: datetime) -> dict[int, int]:
    """Each subject's reports in a detector's window, counted as that detector counts them
    (incidents once), for the pages that show the count beside the rule: the intake's
    duplicate check and the profiles. Subjects with none are left out."""
    if not subject_ids:
        return {}
    counting = replace(config[name], reports=1, enabled=True, once_per_window=False)
    ids = {"person_ids": subject_ids} if counting.subject == "person" else {
        "location_ids": subject_ids}
    return {hit.subject_id: hit.reports for hit in find_hits(
        session, config, counting, as_of, recorded=True, **ids)}


def repeat_victim_counts(session: Session, config: DetectorsConfig, person_ids: list[int],
                         as_of: datetime) -> dict[int, int]:
    return report_counts(session, config, "repeat_victim", person_ids, as_of)


_preview_config: DetectorsConfig | None = None


def use_preview_config(config: DetectorsConfig | None) -> None:
    """The configuration `rules check` previews (None: the shipped defaults)."""
    global _preview_config
    _preview_config = config


def _preview(session: Session, as_of: datetime) -> list[preview.WouldFire]:
    """What the detectors would record at `as_of` and have not: nothing is written."""
    config = _preview_config or _configured()
    found = []
    for hit in find_all(session, config, as_of):
        detector = config[hit.detector]
        found.append(preview.WouldFire(
            rule=f"detector:{hit.detector}", subject=f"{hit.subject} {hit.subject_id}",
            level="hit", detail=f"{message_for(detector, hit)}; newest report {hit.reference}"))
    return found


def _configured() -> DetectorsConfig:
    """The settings' detectors file (as `casebridge rules check` runs), else the defaults."""
    from casebridge.settings import SettingsError, get_settings

    try:
        return for_settings(get_settings())
    except SettingsError:
        return load()


preview.register("detectors", _preview)
