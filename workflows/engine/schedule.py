"""What runs on a schedule, and how often: one table for both ways of running the engine
(APScheduler inside `casebridge serve`, Prefect deployments served by `casebridge worker`).

Each flow runs on a cron expression in the partnership's time zone (the deadline sweep every
five minutes, due reviews hourly) or, where a cron setting is empty, every so many seconds:
the outbox is dispatched every 30 s by default, more often than cron's one minute allows.

Flows are found by name in `workflows.engine.flows`, so a flow added there joins the
schedule by one line here; a name not defined yet is skipped with a log line, not an error.
Each scheduled flow carries state hooks that write an `engine_runs` record at its start and
end (ids, state and counts only), which `casebridge engine status` reads.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from casebridge.settings import Settings
from storage.db import unit_of_work

log = logging.getLogger("casebridge.engine")


@dataclass(frozen=True)
class Timing:
    """When a flow runs: on a cron expression (in `timezone`) or every `interval`."""

    cron: str | None
    interval: timedelta | None
    timezone: str

    def __str__(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        assert self.interval is not None
        return f"every {self.interval.total_seconds():g} s"

    def apscheduler_trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron:
            return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))
        assert self.interval is not None
        return IntervalTrigger(seconds=self.interval.total_seconds(), timezone=UTC)

    def prefect_schedule(self) -> Any:
        from prefect.schedules import Cron, Interval

        if self.cron:
            return Cron(self.cron, timezone=self.timezone)
        return Interval(self.interval, timezone=self.timezone)

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after `moment` (for an interval: one interval on)."""
        if not self.cron:
            assert self.interval is not None
            return moment + self.interval
        fire = self.apscheduler_trigger().get_next_fire_time(None, moment + timedelta(seconds=1))
        assert fire is not None  # a valid crontab always fires again
        return fire.astimezone(UTC)


@dataclass(frozen=True)
class ScheduledFlow:
    name: str  # the flow's name and its function's name in workflows.engine.flows
    interval_setting: str  # the Settings field with its interval in seconds
    cron_setting: str  # the Settings field with its cron expression; empty: the interval
    parameters: Callable[[Settings], dict[str, Any]] = field(default=lambda _: {})

    def timing(self, settings: Settings) -> Timing:
        cron = str(getattr(settings, self.cron_setting) or "").strip() or None
        interval = timedelta(seconds=float(getattr(settings, self.interval_setting)))
        return Timing(cron=cron, interval=None if cron else interval,
                      timezone=settings.timezone)


SCHEDULE: tuple[ScheduledFlow, ...] = (
    ScheduledFlow("dispatch_outbox", "engine_dispatch_interval_seconds", "engine_dispatch_cron",
                  lambda s: {"batch_size": s.engine_batch_size}),
    ScheduledFlow("sweep_deadlines", "engine_sweep_interval_seconds", "engine_sweep_cron"),
    ScheduledFlow("scheduled_reviews", "engine_review_interval_seconds", "engine_review_cron"),
    ScheduledFlow("sweep_detectors", "engine_detect_interval_seconds", "engine_detect_cron"),
    ScheduledFlow("send_digests", "engine_review_interval_seconds", "engine_review_cron"),
    ScheduledFlow("sweep_retention", "engine_retention_interval_seconds",
                  "engine_retention_cron"),
)


@dataclass(frozen=True)
class Runnable:
    entry: ScheduledFlow
    flow: Any  # a prefect Flow, with the run-recording hooks
    timing: Timing
    parameters: dict[str, Any]


def runnable_flows(settings: Settings, mode: str) -> list[Runnable]:
    """The scheduled flows that exist in this build, with hooks that record each run."""
    from workflows.engine import flows

    found = []
    for entry in SCHEDULE:
        flow = getattr(flows, entry.name, None)
        if flow is None:
            log.info("engine: flow %s is not built yet; not scheduled", entry.name)
            continue
        recorder = _Recorder(entry.name, mode)
        hooked = flow.with_options(
            on_running=[recorder.started], on_completion=[recorder.ended],
            on_failure=[recorder.ended], on_crashed=[recorder.ended],
            on_cancellation=[recorder.ended])
        found.append(Runnable(entry, hooked, entry.timing(settings), entry.parameters(settings)))
    return found


def runner_name() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


class _Recorder:
    """Prefect state hooks writing engine_runs. Must never fail the flow: a status record
    lost is better than an e-mail not sent, so database errors are logged and dropped."""

    def __init__(self, flow_name: str, mode: str) -> None:
        self.flow_name, self.mode = flow_name, mode

    def started(self, flow: Any, flow_run: Any, state: Any) -> None:
        from storage.engine.services import record_start

        self._write(record_start, flow_run)

    def ended(self, flow: Any, flow_run: Any, state: Any) -> None:
        from storage.engine.services import record_end

        self._write(record_end, flow_run, state=str(state.type.value).lower(),
                    summary=_counts(state))

    def _write(self, record: Callable[..., None], flow_run: Any, **extra: Any) -> None:
        from workflows.engine.flows import current_dispatcher

        try:
            with unit_of_work(current_dispatcher().sessions) as session:
                record(session, flow=self.flow_name, flow_run_id=str(flow_run.id),
                       runner=runner_name(), mode=self.mode, **extra)
        except Exception as exc:
            log.warning("engine: could not record the %s run: %s", self.flow_name,
                        type(exc).__name__)


def _counts(state: Any) -> dict[str, int] | None:
    """The run's result if it is a dict of counts (the flows return only counts)."""
    try:
        result = state.result(raise_on_failure=False)
    except Exception:
        return None
    if isinstance(result, dict) and all(
            isinstance(k, str) and isinstance(v, int) for k, v in result.items()):
        return dict(result)
    return None
