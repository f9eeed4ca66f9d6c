"""The retention sweep as a Prefect flow on its schedule: it lists due cases, once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from casebridge.settings import SettingsError, load_settings
from storage.cases.models import Case
from storage.cases.workflow import close_case
from storage.db import unit_of_work
from storage.retention.models import RetentionReview
from tests import factories
from workflows.engine.dispatch import Dispatcher
from workflows.engine.flows import sweep_retention, use_dispatcher
from workflows.engine.schedule import SCHEDULE, Timing


def test_the_retention_flow_lists_due_cases_once_and_deletes_nothing(
        prefect_harness, scratch_sessions, frozen_clock, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    frozen_clock.set(datetime(2020, 1, 6, 10, tzinfo=UTC))
    with unit_of_work(scratch_sessions) as session:
        case = factories.asb_case(session, factories.agency(session))
        close_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Resolved")
    frozen_clock.set(datetime(2026, 1, 6, 10, tzinfo=UTC))
    with use_dispatcher(Dispatcher(scratch_sessions, load_settings(data_dir=tmp_path))):
        assert sweep_retention() == {"candidates": 1, "added": 1}
        assert sweep_retention() == {"candidates": 0, "added": 0}
    with unit_of_work(scratch_sessions) as session:
        assert session.scalar(select(func.count()).select_from(RetentionReview)) == 1
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_the_retention_sweep_runs_nightly_and_a_bad_schedule_stops_start_up(
        monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    entry = next(e for e in SCHEDULE if e.name == "sweep_retention")
    assert entry.timing(load_settings(data_dir=tmp_path)) == Timing(
        "41 2 * * *", None, "Europe/London")
    bad = tmp_path / "retention.yaml"
    bad.write_text("default: {years: 200, then: review}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"default\.years"):
        load_settings(data_dir=tmp_path, retention_file=str(bad))
