"""The detectors' dry run (`rules.preview`, behind `casebridge rules check --as-of`): what
would be recorded at a moment, with references and ids only, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

import rules.detectors as detectors
from rules import preview
from storage.detections.models import Detection
from storage.flags.models import Flag
from storage.outbox.models import OutboxMessage
from tests import factories
from tests.rules.detectors.helpers import person, report

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (Detection, Flag, OutboxMessage))


def test_the_preview_lists_what_would_fire_and_writes_nothing(session, frozen_clock):
    detectors.use_preview_config(detectors.load())
    try:
        owner = factories.agency(session)
        victim = person(session)
        for days in (20, 10, 0):
            newest = report(session, frozen_clock, NOW - timedelta(days=days), owner,
                            victim=victim)
        before = counts(session)
        found = [f for f in preview.would_fire(session, NOW, ["detectors"])
                 if f.subject == f"person {victim.id}"]
        assert counts(session) == before
        assert [(f.rule, f.level) for f in found] == [
            ("detector:case_review_duty", "hit"), ("detector:case_review_threshold", "hit"),
            ("detector:repeat_victim", "hit")]
        assert found[2].detail == (f"Repeat victim: 3 reports in 6 months; newest report "
                                   f"{newest.reference}")
        assert "Testgiven" not in str(found)
        # A month before the third report, only the duty would have fired.
        earlier = [f.rule for f in preview.would_fire(session, NOW - timedelta(days=5),
                                                      ["detectors"])
                   if f.subject == f"person {victim.id}"]
        assert earlier == ["detector:case_review_duty"]
        # Once recorded, nothing is left to fire.
        detectors.detect_for_case(session, detectors.load(), newest.id, NOW)
        assert [f for f in preview.would_fire(session, NOW, ["detectors"])
                if f.subject == f"person {victim.id}"] == []
    finally:
        detectors.use_preview_config(None)
