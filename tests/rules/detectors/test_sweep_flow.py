"""The detectors' sweep as a Prefect flow (Prefect's test harness), on its schedule: the same
function as `rules.detectors.sweep`, and only counts cross Prefect's boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casebridge.settings import SettingsError, load_settings
from storage.db import unit_of_work
from tests import factories
from tests.rules.detectors.helpers import person, report
from workflows.engine.dispatch import Dispatcher
from workflows.engine.flows import sweep_detectors, use_dispatcher
from workflows.engine.schedule import SCHEDULE, Timing

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_detector_flow_records_each_hit_once(prefect_harness, scratch_sessions,
                                                 frozen_clock, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    with unit_of_work(scratch_sessions) as session:
        owner = factories.agency(session)
        for _ in range(2):
            victim = person(session)
            for days in (20, 10, 0):
                report(session, frozen_clock, NOW - timedelta(days=days), owner, victim=victim)
    dispatcher = Dispatcher(scratch_sessions, load_settings(data_dir=tmp_path))
    with use_dispatcher(dispatcher):
        first = sweep_detectors()
        assert first == {"repeat_victim": 2, "case_review_threshold": 2, "case_review_duty": 2,
                         "flags": 2}
        assert sweep_detectors() == {}


def test_the_detector_sweep_is_scheduled_hourly_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    settings = load_settings(data_dir=tmp_path)
    entry = next(e for e in SCHEDULE if e.name == "sweep_detectors")
    assert entry.timing(settings) == Timing("23 * * * *", None, "Europe/London")
    settings = load_settings(data_dir=tmp_path, engine_detect_cron="",
                             engine_detect_interval_seconds=600)
    assert entry.timing(settings) == Timing(None, timedelta(seconds=600), "Europe/London")


def test_a_bad_detectors_file_stops_start_up_naming_the_line(monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    bad = tmp_path / "detectors.yaml"
    bad.write_text("detectors:\n  repeat_victim:\n    reports: 0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"detectors.yaml:3: detectors.repeat_victim.reports: "
                                            r"must be from 1 to 1000, not 0"):
        load_settings(data_dir=tmp_path, detectors_file=str(bad))
