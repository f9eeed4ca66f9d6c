"""When each scheduled flow runs: cron in the partnership's time zone, or an interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from casebridge.settings import SettingsError, load_settings
from workflows.engine.schedule import SCHEDULE, Timing


def _timings(**overrides: object) -> dict[str, Timing]:
    settings = load_settings(**overrides)
    return {entry.name: entry.timing(settings) for entry in SCHEDULE}


def test_by_default_sweeps_and_reviews_run_on_cron_and_dispatch_on_an_interval():
    timings = _timings()
    assert timings["sweep_deadlines"] == Timing("*/5 * * * *", None, "Europe/London")
    assert timings["scheduled_reviews"] == Timing("7 * * * *", None, "Europe/London")
    assert timings["dispatch_outbox"] == Timing(None, timedelta(seconds=30), "Europe/London")
    assert str(timings["sweep_deadlines"]) == "cron */5 * * * *"
    assert str(timings["dispatch_outbox"]) == "every 30 s"


def test_an_empty_cron_setting_falls_back_to_the_interval_and_a_cron_wins_over_it():
    timings = _timings(engine_sweep_cron="", engine_sweep_interval_seconds=120,
                       engine_dispatch_cron="*/2 * * * *")
    assert timings["sweep_deadlines"] == Timing(None, timedelta(seconds=120), "Europe/London")
    assert timings["dispatch_outbox"].cron == "*/2 * * * *"


def test_cron_runs_on_local_time_across_the_clocks_changing():
    """A daily 06:00 run is 06:00 in London in winter (UTC) and in summer (UTC+1)."""
    daily = Timing("0 6 * * *", None, "Europe/London")
    winter = daily.next_after(datetime(2026, 1, 14, 12, 0, tzinfo=UTC))
    summer = daily.next_after(datetime(2026, 7, 14, 12, 0, tzinfo=UTC))
    assert winter == datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 15, 5, 0, tzinfo=UTC)
    # The clocks go forward on Sunday 29 March 2026: Saturday's run is at 06:00 GMT, Sunday's
    # at 06:00 BST.
    saturday = daily.next_after(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    assert saturday == datetime(2026, 3, 28, 6, 0, tzinfo=UTC)
    assert daily.next_after(saturday) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def test_next_after_is_strictly_later_so_a_run_on_the_minute_is_not_its_own_next():
    sweep = Timing("*/5 * * * *", None, "Europe/London")
    on_time = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
    assert sweep.next_after(on_time) == datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
    assert sweep.next_after(on_time + timedelta(seconds=40)) == datetime(
        2026, 11, 22, 10, 10, tzinfo=UTC)
    every = Timing(None, timedelta(seconds=30), "Europe/London")
    assert every.next_after(on_time) == on_time + timedelta(seconds=30)


def test_both_engines_get_the_same_schedule():
    cron = Timing("7 * * * *", None, "Europe/London")
    trigger = cron.apscheduler_trigger()
    assert isinstance(trigger, CronTrigger)
    assert str(trigger.timezone) == "Europe/London"
    prefect = cron.prefect_schedule()
    assert (prefect.cron, prefect.timezone) == ("7 * * * *", "Europe/London")

    every = Timing(None, timedelta(seconds=4), "Europe/London")
    assert isinstance(every.apscheduler_trigger(), IntervalTrigger)
    assert every.prefect_schedule().interval == timedelta(seconds=4)


@pytest.mark.parametrize(("expression", "message"), [
    ("61 * * * *", "is not a cron expression"),
    ("* * *", "five fields"),
    ("every five minutes please", "five fields"),
    ("* * * * mon-funday", "is not a cron expression"),
])
def test_a_mistyped_cron_stops_the_settings_loading_with_the_setting_named(expression, message):
    with pytest.raises(SettingsError) as raised:
        load_settings(engine_sweep_cron=expression)
    assert "engine_sweep_cron" in str(raised.value)
    assert message in str(raised.value)


def test_cron_settings_are_tidied():
    assert load_settings(engine_review_cron="  0   6 * *  1-5 ").engine_review_cron == (
        "0 6 * * 1-5")
