"""The pure interpreter: (definition, case state, event) -> (new state, effects).

No database, no clock, no I/O: the caller passes the time in each event and applies the
effects (rows, actions, outbox messages) itself. That makes every rule of a case type
testable in microseconds and lets the web, the engine and the migration tool share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from forms.model import FormDefinition
from rules.calendars import WorkingCalendar, calendar_for
from rules.expressions import parse
from workflows.model import (
    RISK_LEVELS,
    AnchorKind,
    Definition,
    DurationUnit,
    EffectKind,
    EffectSpec,
    Stage,
    Transition,
    Worker,
    WorkerKind,
)

ACTIVE, COMPLETED, CANCELLED = "active", "completed", "cancelled"
OPEN, PAUSED, CLOSED = "open", "paused", "closed"


class WorkflowError(Exception):
    """The event does not fit the case's state or definition; the message says why."""


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageRun:
    key: str
    sequence: int
    status: str
    opened_at: datetime
    due_at: datetime | None = None
    warn_at: datetime | None = None
    completed_at: datetime | None = None
    answers: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Paused:
    """Working time that was left on a stage's clock when the case was paused."""

    due_seconds: float | None
    warn_seconds: float | None
    working_time: bool


@dataclass(frozen=True)
class CaseState:
    status: str = OPEN
    risk: str | None = None
    opened_at: datetime | None = None
    stages: tuple[StageRun, ...] = ()
    business_status: str | None = None
    arrivals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    next_reviews: Mapping[str, datetime] = field(default_factory=dict)
    paused: Mapping[str, Paused] = field(default_factory=dict)  # "key:sequence" -> clock
    facts: Mapping[str, Any] = field(default_factory=dict)
    closed_at: datetime | None = None
    close_reason: str | None = None
    # Reopening or moving a case by hand starts a new episode: attempts and max_instances
    # count from there, so a deliberate restart never runs into an exhausted loop.
    episode_start: datetime | None = None

    def active(self, key: str | None = None) -> list[StageRun]:
        return [r for r in self.stages if r.status == ACTIVE and (key is None or r.key == key)]

    def run(self, key: str, sequence: int | None = None) -> StageRun:
        runs = [r for r in self.stages if r.key == key]
        if sequence is None:
            active = [r for r in runs if r.status == ACTIVE]
            if len(active) != 1:
                raise WorkflowError(f"the stage '{key}' is not open on this case")
            return active[0]
        for r in runs:
            if r.sequence == sequence:
                return r
        raise WorkflowError(f"the stage '{key}' #{sequence} is not on this case")

    def episode_runs(self, key: str) -> list[StageRun]:
        start = self.episode_start or self.opened_at
        return [r for r in self.stages if r.key == key and (start is None or r.opened_at >= start)]

    def latest_answers(self) -> dict[str, Mapping[str, Any]]:
        """Each stage's answers from its last completion (by time, then sequence; on a tie
        the later in `stages`). One pass, no sort: it is asked on every event."""
        latest: dict[str, Mapping[str, Any]] = {}
        ranks: dict[str, tuple[datetime, int]] = {}
        for r in self.stages:
            if r.status == COMPLETED and r.answers is not None:
                rank = (r.completed_at or r.opened_at, r.sequence)
                held = ranks.get(r.key)
                if held is None or rank >= held:
                    ranks[r.key] = rank
                    latest[r.key] = r.answers
        return latest

    def variables(self) -> dict[str, Any]:
        """What the database keeps in cases.workflow_state (the rest has its own columns)."""
        return {
            "business_status": self.business_status,
            "arrivals": {k: list(v) for k, v in self.arrivals.items()},
            "next_reviews": {k: v.isoformat() for k, v in self.next_reviews.items()},
            "paused": {k: {"due_seconds": p.due_seconds, "warn_seconds": p.warn_seconds,
                           "working_time": p.working_time} for k, p in self.paused.items()},
            "facts": dict(self.facts),
            "episode_start": self.episode_start.isoformat() if self.episode_start else None,
        }

    @staticmethod
    def variables_from(data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "business_status": data.get("business_status"),
            "arrivals": {k: tuple(v) for k, v in (data.get("arrivals") or {}).items()},
            "next_reviews": {k: datetime.fromisoformat(v)
                             for k, v in (data.get("next_reviews") or {}).items()},
            "paused": {k: Paused(**v) for k, v in (data.get("paused") or {}).items()},
            "facts": dict(data.get("facts") or {}),
            "episode_start": (datetime.fromisoformat(data["episode_start"])
                              if data.get("episode_start") else None),
        }


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    at: datetime
    risk: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitStage:
    at: datetime
    stage: str
    answers: Mapping[str, Any]
    sequence: int | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionsSettled:
    """An action of a stage was completed or declined; `outstanding` are still owed."""

    at: datetime
    stage: str
    sequence: int
    done: int
    declined: int
    outstanding: int


@dataclass(frozen=True)
class DeadlineReached:
    at: datetime
    stage: str
    sequence: int
    kind: str  # "warning" or "due"


@dataclass(frozen=True)
class ReviewDue:
    at: datetime
    stage: str


@dataclass(frozen=True)
class Override:
    """A manager moves the case by hand, with a reason that goes on the chronology."""

    at: datetime
    reason: str
    to: tuple[str, ...]
    by_manager: bool


@dataclass(frozen=True)
class Pause:
    at: datetime
    reason: str


@dataclass(frozen=True)
class Resume:
    at: datetime


@dataclass(frozen=True)
class Close:
    at: datetime
    reason: str


@dataclass(frozen=True)
class Reopen:
    at: datetime
    reason: str
    to: tuple[str, ...] = ()


Event = (OpenCase | SubmitStage | ActionsSettled | DeadlineReached | ReviewDue | Override
         | Pause | Resume | Close | Reopen)


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageOpened:
    key: str
    sequence: int
    form: str | None
    worker: Worker
    opened_at: datetime
    due_at: datetime | None
    warn_at: datetime | None


@dataclass(frozen=True)
class StageCompleted:
    key: str
    sequence: int
    answers: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True)
class StageCancelled:
    key: str
    sequence: int
    reason: str


@dataclass(frozen=True)
class StageRescheduled:
    key: str
    sequence: int
    due_at: datetime | None
    warn_at: datetime | None


@dataclass(frozen=True)
class ActionRequested:
    title: str
    to: Worker
    due_at: datetime
    stage: str
    sequence: int


@dataclass(frozen=True)
class Notification:
    to: Worker
    template: str
    stage: str
    sequence: int
    reason: str  # what caused it, for the idempotency key: "enter", "exit", "warning", ...


@dataclass(frozen=True)
class Referral:
    service: str
    reason: str
    stage: str
    sequence: int


@dataclass(frozen=True)
class LetterRequested:
    template: str
    to: str  # a participant role on the case: victim, complainant, applicant
    stage: str
    sequence: int


@dataclass(frozen=True)
class RiskChanged:
    old: str | None
    new: str


@dataclass(frozen=True)
class StatusChanged:
    business_status: str


@dataclass(frozen=True)
class CaseClosed:
    reason: str
    at: datetime


@dataclass(frozen=True)
class CaseReopened:
    reason: str


@dataclass(frozen=True)
class CasePaused:
    reason: str


@dataclass(frozen=True)
class CaseResumed:
    pass


@dataclass(frozen=True)
class OverrideRecorded:
    reason: str
    to: tuple[str, ...]


Effect = (StageOpened | StageCompleted | StageCancelled | StageRescheduled | ActionRequested
          | Notification | Referral | LetterRequested | RiskChanged | StatusChanged | CaseClosed
          | CaseReopened | CasePaused | CaseResumed | OverrideRecorded)


@dataclass(frozen=True)
class Outcome:
    state: CaseState
    effects: tuple[Effect, ...]


# --- the interpreter ---------------------------------------------------------------------


class Interpreter:
    """Runs one definition. Build one per definition; `handle` is a pure function."""

    def __init__(
        self,
        definition: Definition,
        forms: Mapping[str, FormDefinition],
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self.d = definition
        self.forms = forms
        self.calendar = calendar or calendar_for(definition.calendar_region)

    def handle(self, state: CaseState, event: Event) -> Outcome:
        run = _Run(self, state)
        handler = getattr(run, f"on_{type(event).__name__}")
        handler(event)
        return Outcome(run.state, tuple(run.effects))

    def start(self, event: OpenCase) -> Outcome:
        return self.handle(CaseState(), event)


class _Run:
    """One event's worth of changes, accumulated then returned as an Outcome."""

    def __init__(self, interpreter: Interpreter, state: CaseState) -> None:
        self.i = interpreter
        self.d = interpreter.d
        self.cal = interpreter.calendar
        self.state = state
        self.effects: list[Effect] = []

    # events

    def on_OpenCase(self, event: OpenCase) -> None:
        if self.state.opened_at is not None:
            raise WorkflowError("the case is already open")
        risk = event.risk if event.risk in RISK_LEVELS else None
        self.state = CaseState(status=OPEN, risk=risk, opened_at=event.at,
                               facts=dict(event.facts), episode_start=event.at)
        for key in self.d.start:
            self._open(key, event.at)

    def on_SubmitStage(self, event: SubmitStage) -> None:
        self._require_open(allow_paused=False)
        run = self.state.run(event.stage, event.sequence)
        if run.status != ACTIVE:
            raise WorkflowError(f"the stage '{run.key}' is already {run.status}")
        if event.facts:
            self.state = replace(self.state, facts={**self.state.facts, **event.facts})
        self._complete(run, dict(event.answers), event.at)

    def on_ActionsSettled(self, event: ActionsSettled) -> None:
        stage = self.d.stages.get(event.stage)
        if stage is None or not stage.completes_when_actions_settled or event.outstanding:
            return
        if self.state.status == CLOSED:
            return  # agencies finished after closing: nothing to move on
        run = self.state.run(event.stage, event.sequence)
        if run.status != ACTIVE:
            return
        actions = {"done": event.done, "declined": event.declined}
        self._complete(run, {"actions": actions}, event.at, actions=actions)

    def on_DeadlineReached(self, event: DeadlineReached) -> None:
        if self.state.status != OPEN:
            return  # a paused clock does not run out; a closed case owes nothing
        run = self.state.run(event.stage, event.sequence)
        if run.status != ACTIVE:
            return
        stage = self.d.stage(run.key)
        if event.kind == "warning":
            self.effects.append(Notification(stage.worked_by, "deadline_warning", run.key,
                                             run.sequence, "warning"))
        else:
            self.effects.append(Notification(stage.worked_by, "deadline_breached", run.key,
                                             run.sequence, "due"))
            self.effects.append(Notification(Worker(WorkerKind.ROLE, role="manager"),
                                             "deadline_escalation", run.key, run.sequence, "due"))

    def on_ReviewDue(self, event: ReviewDue) -> None:
        if self.state.status != OPEN:
            return
        due = self.state.next_reviews.get(event.stage)
        if due is None or due > event.at:
            return
        reviews = {**self.state.next_reviews}
        reviews.pop(event.stage)  # taken now; _schedule_reviews sets the next one
        self.state = replace(self.state, next_reviews=reviews)
        if self.state.active(event.stage):
            # The last review is still not done: it stays overdue (and visible) rather than
            # a second one piling up; the schedule moves on.
            self._schedule_reviews(event.at)
            return
        self._open(event.stage, event.at)

    def on_Override(self, event: Override) -> None:
        if not event.by_manager:
            raise WorkflowError("only a manager can move a case by hand")
        if not event.reason.strip():
            raise WorkflowError("say why the case is being moved by hand")
        if not event.to:
            raise WorkflowError("choose where to move the case")
        self._require_open(allow_paused=True)
        self._check_targets(event.to, allow_closed=True)
        self.effects.append(OverrideRecorded(event.reason.strip(), tuple(event.to)))
        if self.state.status == PAUSED:
            self.on_Resume(Resume(event.at))
        self._cancel_all(f"moved by a manager: {event.reason.strip()}")
        self.state = replace(self.state, arrivals={}, episode_start=event.at)
        if event.to == ("closed",):
            self._close(event.reason.strip(), event.at)
            return
        for key in event.to:
            self._open(key, event.at, allow_recurring=True)

    def on_Pause(self, event: Pause) -> None:
        self._require_open(allow_paused=False)
        if not event.reason.strip():
            raise WorkflowError("say why the case is paused (e.g. waiting for the victim)")
        self.state = replace(self.state, status=PAUSED)
        for run in self.state.active():
            if self.d.stage(run.key).pausable and run.due_at is not None:
                self._stop_clock(run, event.at)
        self.effects.append(CasePaused(event.reason.strip()))

    def on_Resume(self, event: Resume) -> None:
        if self.state.status != PAUSED:
            raise WorkflowError("the case is not paused")
        runs = []
        for run in self.state.stages:
            clock = self.state.paused.get(f"{run.key}:{run.sequence}")
            if clock is not None and run.status == ACTIVE:
                due = self._after(event.at, clock.due_seconds, clock.working_time)
                warn = self._after(event.at, clock.warn_seconds, clock.working_time)
                run = replace(run, due_at=due, warn_at=warn)
                self.effects.append(StageRescheduled(run.key, run.sequence, due, warn))
            runs.append(run)
        self.state = replace(self.state, status=OPEN, stages=tuple(runs), paused={})
        self.effects.append(CaseResumed())

    def on_Close(self, event: Close) -> None:
        self._require_open(allow_paused=True)
        if not event.reason.strip():
            raise WorkflowError("say why the case is being closed")
        self._cancel_all("the case was closed")
        self._close(event.reason.strip(), event.at)

    def on_Reopen(self, event: Reopen) -> None:
        if self.state.status != CLOSED:
            raise WorkflowError("only a closed case can be reopened")
        if not event.reason.strip():
            raise WorkflowError("say why the case is being reopened")
        targets = event.to or self.d.start
        self._check_targets(targets, allow_closed=False)
        self.state = replace(self.state, status=OPEN, closed_at=None, close_reason=None,
                             episode_start=event.at)
        self.effects.append(CaseReopened(event.reason.strip()))
        for key in targets:
            self._open(key, event.at, allow_recurring=True)

    # mechanics

    def _check_targets(self, targets: tuple[str, ...], *, allow_closed: bool) -> None:
        if allow_closed and targets == ("closed",):
            return
        for key in targets:
            if key not in self.d.stages:
                raise WorkflowError(f"'{key}' is not a stage of {self.d.name}")
        if all(self.d.stages[k].recurring for k in targets):
            raise WorkflowError("choose a main stage to move to: reviews recur on their own")

    def _require_open(self, *, allow_paused: bool) -> None:
        if self.state.status == CLOSED:
            raise WorkflowError("the case is closed")
        if self.state.status == PAUSED and not allow_paused:
            raise WorkflowError("the case is paused: resume it first")

    def _open(self, key: str, at: datetime, *, allow_recurring: bool = True) -> None:
        stage = self.d.stage(key)
        previous = [r for r in self.state.stages if r.key == key]
        this_episode = self.state.episode_runs(key)
        if stage.max_instances is not None and len(this_episode) >= stage.max_instances:
            raise WorkflowError(
                f"the stage '{stage.name}' can happen at most {stage.max_instances} time(s)"
            )
        if any(r.status == ACTIVE for r in previous) and not stage.recurring:
            return  # already open (two branches led here): one instance is enough
        sequence = max((r.sequence for r in previous), default=0) + 1
        due, warn = self._deadline(stage, at)
        run = StageRun(key, sequence, ACTIVE, at, due_at=due, warn_at=warn)
        self.state = replace(self.state, stages=(*self.state.stages, run))
        self.effects.append(StageOpened(key, sequence, stage.form, stage.worked_by, at, due, warn))
        if self.state.status == PAUSED and stage.pausable and due is not None:
            self._stop_clock(run, at)
        if stage.business_status:
            self._set_status(stage.business_status)
        if stage.on_enter:
            context = self._context({})
            for effect in stage.on_enter:
                self._effect(effect, stage, run, at, context, "enter")
        self._schedule_reviews(at)

    def _stop_clock(self, run: StageRun, at: datetime) -> None:
        """Keep the time that was left on a stage's clock, and take its deadline away."""
        working = _is_working_time(self.d.stage(run.key), self.state.risk)
        clock = Paused(
            due_seconds=self._remaining(at, run.due_at, working),
            warn_seconds=self._remaining(at, run.warn_at, working) if run.warn_at else None,
            working_time=working,
        )
        self.state = replace(self.state, paused={**self.state.paused,
                                                 f"{run.key}:{run.sequence}": clock})
        self._replace_run(replace(run, due_at=None, warn_at=None))
        self.effects.append(StageRescheduled(run.key, run.sequence, None, None))

    def _complete(
        self, run: StageRun, answers: dict[str, Any], at: datetime,
        actions: Mapping[str, int] | None = None,
    ) -> None:
        stage = self.d.stage(run.key)
        completed = replace(run, status=COMPLETED, completed_at=at, answers=answers)
        self._replace_run(completed)
        self.effects.append(StageCompleted(run.key, run.sequence, answers, at))
        form = self.i.forms.get(stage.form or "")
        scores = form.compute_scores(answers) if form else {}
        context = self._context(answers, scores=scores, actions=actions)
        context["attempt"] = sum(
            1 for r in self.state.episode_runs(run.key) if r.sequence <= run.sequence
        )
        for effect in stage.on_exit:
            self._effect(effect, stage, completed, at, context, "exit")
            context["risk"] = self.state.risk
        transition = self._choose(stage, context)
        if transition is None:
            self._schedule_reviews(at)
            return
        if transition.closes:
            self._cancel_all("the case was closed")
            self._close(transition.close_reason or f"Completed at '{stage.name}'", at)
            return
        for target in transition.to:
            self._arrive(target, run.key, at)
        self._schedule_reviews(at)

    def _choose(self, stage: Stage, context: Mapping[str, Any]) -> Transition | None:
        matching = [t for t in stage.transitions if t.when and parse(t.when).evaluate(context)]
        if len(matching) > 1:
            conditions = "; ".join(str(t.when) for t in matching)
            raise WorkflowError(f"more than one way out of '{stage.name}' applies: {conditions}")
        if matching:
            return matching[0]
        fallback = [t for t in stage.transitions if t.otherwise or not t.when]
        if not fallback:
            if stage.transitions:
                raise WorkflowError(f"no way out of '{stage.name}' applies to these answers")
            return None
        return fallback[0]

    def _arrive(self, target: str, source: str, at: datetime) -> None:
        stage = self.d.stage(target)
        if not stage.join:
            self._open(target, at)
            return
        arrived = tuple(sorted({*self.state.arrivals.get(target, ()), source}))
        arrivals = dict(self.state.arrivals)
        if set(stage.join) <= set(arrived):
            arrivals.pop(target, None)
            self.state = replace(self.state, arrivals=arrivals)
            self._open(target, at)
        else:
            arrivals[target] = arrived
            self.state = replace(self.state, arrivals=arrivals)

    def _effect(
        self, spec: EffectSpec, stage: Stage, run: StageRun, at: datetime,
        context: Mapping[str, Any], moment: str,
    ) -> None:
        if spec.when and not parse(spec.when).evaluate(context):
            return
        if spec.kind is EffectKind.NOTIFY:
            self.effects.append(Notification(spec.to, spec.template, run.key, run.sequence,
                                             f"{moment}:{spec.template}"))
        elif spec.kind is EffectKind.CREATE_ACTION:
            due = spec.due.after(at, self.cal)  # type: ignore[union-attr]
            self.effects.append(ActionRequested(spec.title or "", spec.to, due, run.key,
                                                run.sequence))
        elif spec.kind is EffectKind.REFER:
            self.effects.append(Referral(str(spec.service), spec.reason or "", run.key,
                                         run.sequence))
        elif spec.kind is EffectKind.LETTER:
            self.effects.append(LetterRequested(str(spec.template), str(spec.recipient),
                                                run.key, run.sequence))
        elif spec.kind is EffectKind.SET_STATUS:
            self._set_status(str(spec.status))
        elif spec.kind is EffectKind.SET_RISK:
            level = parse(str(spec.risk_from)).value(context)
            if level in RISK_LEVELS and level != self.state.risk:
                self.effects.append(RiskChanged(self.state.risk, level))
                self.state = replace(self.state, risk=level)

    def _deadline(self, stage: Stage, at: datetime) -> tuple[datetime | None, datetime | None]:
        deadline = stage.deadline
        if deadline is None:
            return None, None
        allowance = deadline.allowance(self.state.risk)
        if allowance is None:
            return None, None
        anchor = self._anchor_time(stage, at)
        due = max(allowance.after(anchor, self.cal), at)
        warn = None
        if deadline.warn_before:
            warn = min(max(deadline.warn_before.before(due, self.cal), at), due)
        return due, warn

    def _anchor_time(self, stage: Stage, at: datetime) -> datetime:
        anchor = stage.deadline.anchor  # type: ignore[union-attr]
        if anchor.kind is AnchorKind.CASE_OPENED and self.state.opened_at:
            # A reopened case counts from its reopening, or its deadlines would be missed
            # the moment it reopens.
            return self.state.episode_start or self.state.opened_at
        if anchor.kind is AnchorKind.STAGE_COMPLETED:
            times = [r.completed_at for r in self.state.stages
                     if r.key == anchor.stage and r.completed_at]
            return max(times) if times else at
        if anchor.kind is AnchorKind.ANSWER:
            answer = self.state.latest_answers().get(str(anchor.stage), {}).get(str(anchor.field))
            return _as_instant(answer, self.cal) or at
        return at

    def _schedule_reviews(self, at: datetime) -> None:
        active_keys = {r.key for r in self.state.active()}
        reviews = dict(self.state.next_reviews)
        for stage in self.d.recurring_stages:
            recurrence = stage.recurring
            assert recurrence is not None
            running = bool(active_keys & set(recurrence.while_in))
            if not running:
                reviews.pop(stage.key, None)
                continue
            if stage.key not in reviews:  # a review that fell due waits for its ReviewDue
                interval = recurrence.interval(self.state.risk)
                if interval is not None:
                    reviews[stage.key] = interval.after(at, self.cal)
        if reviews != self.state.next_reviews:
            self.state = replace(self.state, next_reviews=reviews)

    def _cancel_all(self, reason: str) -> None:
        runs = []
        for run in self.state.stages:
            if run.status == ACTIVE:
                run = replace(run, status=CANCELLED)
                self.effects.append(StageCancelled(run.key, run.sequence, reason))
            runs.append(run)
        self.state = replace(self.state, stages=tuple(runs))

    def _close(self, reason: str, at: datetime) -> None:
        self.state = replace(self.state, status=CLOSED, closed_at=at, close_reason=reason,
                             arrivals={}, next_reviews={}, paused={})
        self.effects.append(CaseClosed(reason, at))

    def _set_status(self, status: str) -> None:
        if status != self.state.business_status:
            self.state = replace(self.state, business_status=status)
            self.effects.append(StatusChanged(status))

    def _replace_run(self, new: StageRun) -> None:
        self.state = replace(self.state, stages=tuple(
            new if (r.key, r.sequence) == (new.key, new.sequence) else r
            for r in self.state.stages
        ))

    def _context(
        self, answers: Mapping[str, Any], *, scores: Mapping[str, Any] | None = None,
        actions: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        return {
            "answers": answers,
            "scores": scores or {},
            "risk": self.state.risk,
            "facts": {**dict.fromkeys(self.d.facts), **self.state.facts},
            "stages": self.state.latest_answers(),
            "actions": actions or {},
        }

    def _remaining(self, at: datetime, until: datetime | None, working: bool) -> float | None:
        if until is None:
            return None
        if working:
            return self.cal.working_time_between(at, until).total_seconds()
        return max((until - at).total_seconds(), 0.0)

    def _after(self, at: datetime, seconds: float | None, working: bool) -> datetime | None:
        if seconds is None:
            return None
        if working:
            return self.cal.add_working_duration(at, timedelta(seconds=seconds))
        return at + timedelta(seconds=seconds)


def _is_working_time(stage: Stage, risk: str | None) -> bool:
    allowance = stage.deadline.allowance(risk) if stage.deadline else None
    return allowance is not None and allowance.unit is not DurationUnit.CALENDAR_DAYS


def _as_instant(answer: Any, calendar: WorkingCalendar) -> datetime | None:
    """A date answer counts from the start of that day in the partnership's time zone."""
    if isinstance(answer, datetime):
        return answer
    if isinstance(answer, str):
        try:
            parsed = datetime.fromisoformat(answer)
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            return parsed
        answer = parsed.date() if len(answer) <= 10 else parsed
        if isinstance(answer, datetime):
            return answer.replace(tzinfo=ZoneInfo(calendar.timezone))
    if isinstance(answer, date):
        return datetime.combine(answer, time(0, 0), tzinfo=ZoneInfo(calendar.timezone))
    return None
